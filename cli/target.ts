import { Logger } from '@aws-lambda-powertools/logger';
import { registry } from '../examples/registry.ts';
import { type AwsClientOptions, createAwsClients } from '../lib/aws/clients.ts';
import { type Env, readAwsEndpoints, readConfig, sameEndpointEverywhere } from '../lib/aws/config.ts';
import { LambdagClient } from '../lib/client/lambdagClient.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { ConfigError } from '../lib/errors.ts';
import { startLocalStack } from '../local/stack.ts';
import { dim } from './format.ts';
import { dataDir, readLiveState, stateDir } from './localState.ts';
import { createCloudFormationClient, DEPLOYED_ENV, stackEnvironment } from './stackOutputs.ts';

/** Where a command talks to: a running local stack, a one-shot local stack, or a deployed stage. */
export interface Target {
  readonly client: LambdagClient;
  readonly deps: Deps;
  readonly description: string;
  /** True when the stack lives only as long as this command. */
  readonly ephemeral: boolean;
  close(): Promise<void>;
}

export interface TargetOptions {
  readonly stage?: string;
  readonly dir?: string;
  /** One endpoint for every AWS service (LocalStack: http://localhost:4566). */
  readonly endpoint?: string;
  readonly region?: string;
  /** The CloudFormation stack of the stage; `lambdag-<stage>` by default. */
  readonly stackName?: string;
}

/**
 * `--stage local` without an endpoint is the embedded stack (a running `lambdag
 * local up`, else a one-shot one). Any other stage, or any explicit endpoint, is a
 * deployed stack: AWS, or LocalStack after `sls deploy --stage local`. The target's
 * configuration, endpoints and region are passed to its deps explicitly; this process's
 * environment is read, never written.
 */
export async function openTarget(options: TargetOptions): Promise<Target> {
  const stage = options.stage ?? 'local';
  if (stage !== 'local' || options.endpoint) return deployedTarget(stage, options);
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (live?.kind === 'account') {
    // `local up --empty`: the stage deployed into it, at its endpoint, with its admin key.
    const {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    } = live.env;
    return deployedTarget(
      stage,
      { ...options, ...(endpoint && { endpoint }), region: options.region ?? live.env.AWS_REGION },
      accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    );
  }
  if (live) {
    const env = { ...definedOnly(process.env), ...live.env };
    return build(env, localClients(live.env), `local stack (pid ${live.pid})`, false, async () => {});
  }
  const stack = await startLocalStack({ dataDir: dataDir(dir), quiet: true, onPackaging: sayPackaging });
  const env = { ...definedOnly(process.env), ...stack.env };
  return build(env, stack.clientOptions, 'one-shot local stack', true, () => stack.stop());
}

/** A cold start packages the stack's template first, silent for seconds: say so, on stderr (stdout may be JSON). */
export function sayPackaging(): void {
  process.stderr.write(
    `${dim("packaging the stack's template (sls package --stage local; the first start after a change to serverless.yml takes some 15 s)…")}\n`,
  );
}

/** An embedded stack's clients: its gateway, its region, its admin key (from the env it hands out). */
function localClients(env: Env): AwsClientOptions {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: region } = env;
  return {
    endpoints: readAwsEndpoints(env),
    ...(region ? { region } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}

async function deployedTarget(
  stage: string,
  options: TargetOptions,
  credentials?: AwsClientOptions['credentials'],
): Promise<Target> {
  const stackName = options.stackName ?? `lambdag-${stage}`;
  const aws: AwsClientOptions = {
    ...(options.endpoint ? { endpoints: sameEndpointEverywhere(options.endpoint) } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(credentials && { credentials }),
  };
  // Variables already exported win; otherwise they come from the stack outputs.
  const outputs = DEPLOYED_ENV.every((name) => process.env[name])
    ? {}
    : await stackEnvironment(createCloudFormationClient(aws), stackName);
  const env: Env = {
    ...outputs,
    ...definedOnly(process.env),
    LAMBDAG_STAGE: process.env.LAMBDAG_STAGE || stage,
  };
  const where = options.endpoint ? ` at ${options.endpoint}` : '';
  return build(env, aws, `stage ${stage} (${stackName}${where})`, false, async () => {});
}

/** The set variables of an environment, to merge under (or over) a target's. */
function definedOnly(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
}

function build(
  env: Env,
  aws: AwsClientOptions,
  description: string,
  ephemeral: boolean,
  close: () => Promise<void>,
): Target {
  const stateMachineArn = env.LAMBDAG_STATE_MACHINE_ARN;
  if (!stateMachineArn) throw new ConfigError('LAMBDAG_STATE_MACHINE_ARN', 'is not set');
  const deps = createDeps(registry, {
    config: readConfig(env),
    aws: createAwsClients(aws),
    // The CLI's own logs would interleave with its output; keep them to warnings.
    log: new Logger({ serviceName: 'lambdag-cli', logLevel: 'WARN' }),
  });
  const client = LambdagClient.fromDeps(deps, stateMachineArn);
  return { client, deps, description, ephemeral, close };
}

/** Open the target, run `use` with it, and close it whatever happens. */
export async function withTarget<T>(options: TargetOptions, use: (target: Target) => Promise<T>): Promise<T> {
  const target = await openTarget(options);
  try {
    return await use(target);
  } finally {
    await target.close();
  }
}
