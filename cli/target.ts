import { Logger } from '@aws-lambda-powertools/logger';
import { registry } from '../handlers/registry.ts';
import { LambdagClient } from '../lib/client.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { ConfigError } from '../lib/errors.ts';
import { startLocalStack } from '../local/stack.ts';
import { dataDir, readLiveState, stateDir } from './localState.ts';

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
}

export async function openTarget(options: TargetOptions): Promise<Target> {
  const stage = options.stage ?? 'local';
  if (stage !== 'local') return deployedTarget(stage);
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (live) {
    Object.assign(process.env, live.env);
    return build(live.stateMachineArn, `local stack (pid ${live.pid})`, false, async () => {});
  }
  const stack = await startLocalStack({ dataDir: dataDir(dir), quiet: true });
  return build(stack.stateMachineArn, 'one-shot local stack', true, () => stack.stop());
}

function deployedTarget(stage: string): Target {
  const arn = process.env.LAMBDAG_STATE_MACHINE_ARN;
  if (!arn) {
    throw new ConfigError(
      'LAMBDAG_STATE_MACHINE_ARN',
      `is not set; for --stage ${stage}, export it and the LAMBDAG_* variables from the stack outputs (see docs/deploy.md)`,
    );
  }
  return build(arn, `stage ${stage}`, false, async () => {});
}

function build(
  stateMachineArn: string,
  description: string,
  ephemeral: boolean,
  close: () => Promise<void>,
): Target {
  // The CLI's own logs would interleave with its output; keep them to warnings.
  const deps = createDeps(registry, { log: new Logger({ serviceName: 'lambdag-cli', logLevel: 'WARN' }) });
  const client = new LambdagClient({
    sfn: deps.aws.sfn,
    store: deps.store,
    payloads: deps.payloads,
    stateMachineArn,
    registry,
  });
  return { client, deps, description, ephemeral, close };
}
