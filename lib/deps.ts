import { Logger } from '@aws-lambda-powertools/logger';
import { type AwsClients, createAwsClients } from './aws/clients.ts';
import { type Env, type LambdagConfig, processEnv, readConfig } from './aws/config.ts';
import { EcsTasks } from './ecs/tasks.ts';
import type { JobRegistry } from './job/registry.ts';
import type { Log } from './log.ts';
import { Dispatcher } from './step/dispatch.ts';
import { PayloadStore } from './step/payload.ts';
import { DynamoRunStore } from './store/dynamoRunStore.ts';
import { DynamoSlotStore } from './store/dynamoSlotStore.ts';
import type { RunStore } from './store/runStore.ts';
import type { SlotStore } from './store/slotStore.ts';

/** Everything the engine needs, built once by a handler, the CLI or a test, and passed in. */
export interface Deps {
  /**
   * The environment these deps were built from: on Lambda the process's, in the embedded stack
   * the function's own. Settings read per invocation (PollRun's, executionEnded's) come from it.
   */
  readonly env: Env;
  readonly config: LambdagConfig;
  readonly aws: AwsClients;
  readonly registry: JobRegistry;
  readonly store: RunStore;
  /** Keyed concurrency limits' slots (lib/limits/, docs/concurrency.md). */
  readonly slots: SlotStore;
  readonly payloads: PayloadStore;
  readonly dispatcher: Dispatcher;
  readonly ecsTasks: EcsTasks;
  readonly log: Log;
}

/** Build deps from the environment; any part can be replaced (tests pass their own). */
export function createDeps(registry: JobRegistry, overrides: Partial<Deps> = {}): Deps {
  const env = overrides.env ?? processEnv();
  const config = overrides.config ?? readConfig(env);
  const aws = overrides.aws ?? createAwsClients();
  const store =
    overrides.store ??
    new DynamoRunStore(aws.ddb, config.runsTable, {
      retentionDays: config.retentionDays,
      partitions: config.runPartitions,
    });
  const slots = overrides.slots ?? new DynamoSlotStore(aws.ddb, config.runsTable);
  const payloads = overrides.payloads ?? new PayloadStore(aws.s3, config.bucket, config.retentionDays);
  const dispatcher = overrides.dispatcher ?? new Dispatcher(aws.sqs, config, payloads);
  const ecsTasks = overrides.ecsTasks ?? new EcsTasks(aws.ecs, config, payloads);
  const log = overrides.log ?? new Logger({ serviceName: 'lambdag' });
  return { env, config, aws, registry, store, slots, payloads, dispatcher, ecsTasks, log };
}
