import { Logger } from '@aws-lambda-powertools/logger';
import { registry } from '../handlers/registry.ts';
import { LambdagClient } from '../lib/client.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { startLocalStack } from '../local/stack.ts';
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
 * deployed stack: AWS, or LocalStack after `sls deploy --stage local`.
 */
export async function openTarget(options: TargetOptions): Promise<Target> {
  const stage = options.stage ?? 'local';
  if (options.region) process.env.AWS_REGION = options.region;
  if (options.endpoint) process.env.AWS_ENDPOINT_URL = options.endpoint;
  if (stage !== 'local' || options.endpoint) return deployedTarget(stage, options);
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (live) {
    Object.assign(process.env, live.env);
    return build(live.stateMachineArn, `local stack (pid ${live.pid})`, false, async () => {});
  }
  const stack = await startLocalStack({ dataDir: dataDir(dir), quiet: true });
  return build(stack.stateMachineArn, 'one-shot local stack', true, () => stack.stop());
}

async function deployedTarget(stage: string, options: TargetOptions): Promise<Target> {
  const stackName = options.stackName ?? `lambdag-${stage}`;
  // Variables already exported win; otherwise they come from the stack outputs.
  if (!DEPLOYED_ENV.every((name) => process.env[name])) {
    const env = await stackEnvironment(createCloudFormationClient(), stackName);
    for (const [name, value] of Object.entries(env)) process.env[name] ??= value;
  }
  process.env.LAMBDAG_STAGE ??= stage;
  const arn = process.env.LAMBDAG_STATE_MACHINE_ARN as string;
  const where = options.endpoint ? ` at ${options.endpoint}` : '';
  return build(arn, `stage ${stage} (${stackName}${where})`, false, async () => {});
}

function build(
  stateMachineArn: string,
  description: string,
  ephemeral: boolean,
  close: () => Promise<void>,
): Target {
  // The CLI's own logs would interleave with its output; keep them to warnings.
  const deps = createDeps(registry, { log: new Logger({ serviceName: 'lambdag-cli', logLevel: 'WARN' }) });
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
