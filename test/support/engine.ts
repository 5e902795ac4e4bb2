import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../lib/aws/clients.ts';
import type { LambdagConfig } from '../../lib/aws/config.ts';
import { createDeps, type Deps } from '../../lib/deps.ts';
import type { JobPlan } from '../../lib/job/dag.ts';
import type { JobDefinition } from '../../lib/job/defineJob.ts';
import { JobRegistry } from '../../lib/job/registry.ts';
import type { Log } from '../../lib/log.ts';
import type { PollOptions } from '../../lib/run/poll.ts';
import type { PollState } from '../../lib/run/pollPolicy.ts';
import { isQueuedStart } from '../../lib/run/runQueue.ts';
import { isStartResumption, type StartRunRequest, startRun } from '../../lib/run/start.ts';
import type { AttemptOutcome } from '../../lib/step/attemptOutcome.ts';
import { Dispatcher, type DispatchItem, type RunRef, stepMessageOf } from '../../lib/step/dispatch.ts';
import type { StepMessage } from '../../lib/step/messages.ts';
import { PayloadStore } from '../../lib/step/payload.ts';
import { InMemoryRunStore } from '../../lib/store/inMemoryRunStore.ts';
import { InMemorySlotStore } from '../../lib/store/inMemorySlotStore.ts';

/**
 * The engine on in-memory seams, for unit tests of lib/'s transitions without emulators:
 * the in-memory run store, a dispatcher that keeps the messages it would send to SQS, a
 * payload store over a Map instead of S3. Everything else is the real lib/.
 */

/** A Dispatcher whose sends are kept, as the step messages SQS would deliver. */
export class RecordingDispatcher extends Dispatcher {
  /** Every message sent, in order. */
  readonly sent: StepMessage[] = [];
  /** Delays asked for, by message (parallel to `sent`). */
  readonly delays: (number | undefined)[] = [];

  constructor(config: LambdagConfig, payloads: PayloadStore) {
    super(unused<SQSClient>('SQS'), config, payloads);
  }

  override async dispatch(run: RunRef, plan: JobPlan, items: readonly DispatchItem[]): Promise<void> {
    for (const item of items) {
      // The message the real dispatcher would send; only the SQS send is left out.
      this.sent.push(stepMessageOf(run, plan, item));
      this.delays.push(item.delaySeconds);
    }
  }

  /** The messages sent since the last take, taken. */
  take(): StepMessage[] {
    this.delays.splice(0);
    return this.sent.splice(0);
  }

  /** `step@attempt` of each message sent so far (not taken). */
  sentSteps(): string[] {
    return this.sent.map((m) => `${m.step}@${m.attempt}`);
  }
}

/** A PayloadStore over a Map: a missing key is NoSuchKey, as S3 answers. */
export class MemoryPayloadStore extends PayloadStore {
  readonly objects = new Map<string, string>();

  constructor() {
    super(unused<S3Client>('S3'), 'memory-bucket');
  }

  override async putText(key: string, body: string): Promise<void> {
    this.objects.set(key, body);
  }

  override async getJson<T = unknown>(key: string): Promise<T> {
    const text = this.objects.get(key);
    if (text === undefined) throw Object.assign(new Error(`no object '${key}'`), { name: 'NoSuchKey' });
    return JSON.parse(text) as T;
  }
}

/** A Log that keeps its lines (tests may assert on warnings). */
export class MemoryLog implements Log {
  readonly lines: { level: string; message: string; extra: Record<string, unknown>[] }[] = [];
  debug(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: Record<string, unknown>[]) {
    this.lines.push({ level: 'error', message, extra });
  }
}

export const TEST_CONFIG: LambdagConfig = {
  runPartitions: 16,
  stage: 'unit',
  runsTable: 'runs',
  idempotencyTable: 'idempotency',
  bucket: 'memory-bucket',
  queues: { default: 'https://sqs.invalid/default' },
  maxMessageBytes: 262_144,
  cancelCheckSeconds: 5,
  maxReceiveCount: 5,
  requestMetrics: false,
};

/** PollRun's settings for engine tests: the deployed defaults' shape, and no watching (each poll is one look). */
export const TEST_POLL_OPTIONS: PollOptions = {
  stallSeconds: 300,
  maxTicks: 1_000,
  watchSeconds: 0,
  watchCheckMs: 10,
  queuedLostSeconds: 900,
  runningLostSeconds: 1_000,
  cancelGraceSeconds: 60,
  ecsStaleSeconds: 120,
  ecsStartTimeoutSeconds: 600,
};

export interface EngineDeps extends Deps {
  readonly store: InMemoryRunStore;
  readonly dispatcher: RecordingDispatcher;
  readonly payloads: MemoryPayloadStore;
  readonly log: MemoryLog;
}

/** Deps for `jobs` on the in-memory seams; no AWS client is ever called (each throws if used). */
export function engineDeps(
  jobs: readonly JobDefinition<unknown>[],
  config: Partial<LambdagConfig> = {},
): EngineDeps {
  const fullConfig = { ...TEST_CONFIG, ...config };
  const payloads = new MemoryPayloadStore();
  const deps = createDeps(new JobRegistry(jobs), {
    config: fullConfig,
    aws: unusedClients(),
    store: new InMemoryRunStore({ retentionDays: fullConfig.retentionDays }),
    slots: new InMemorySlotStore(),
    payloads,
    dispatcher: new RecordingDispatcher(fullConfig, payloads),
    log: new MemoryLog(),
  });
  return deps as EngineDeps;
}

/** AWS clients none of which may be used: each is `unused`. */
function unusedClients(): AwsClients {
  return new Proxy({} as AwsClients, {
    get: (_target, property) => (property === 'then' ? undefined : unused(`AWS client ${String(property)}`)),
  });
}

/** A stand-in for an AWS client the engine must not reach in these tests: any use throws. */
function unused<T>(what: string): T {
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (property === 'then') return undefined;
        throw new Error(`${what} used in an in-memory engine test (.${String(property)})`);
      },
    },
  ) as T;
}

/**
 * Deliver every message sent, and those their attempts send, to `runner` until none is
 * left (a retry's delay is not waited for); returns the outcomes in order.
 */
export async function drain(
  deps: EngineDeps,
  runner: { run(message: StepMessage): Promise<AttemptOutcome> },
): Promise<AttemptOutcome[]> {
  const outcomes: AttemptOutcome[] = [];
  for (let messages = deps.dispatcher.take(); messages.length > 0; messages = deps.dispatcher.take()) {
    for (const message of messages) outcomes.push(await runner.run(message));
  }
  return outcomes;
}

/** StartRun with no deadline: it writes the whole plan and answers the first poll state. */
export async function startedRun(deps: Deps, request: StartRunRequest): Promise<PollState> {
  const answer = await startRun(deps, request);
  if (isStartResumption(answer)) throw new Error(`StartRun of ${answer.runId} did not finish its plan`);
  if (isQueuedStart(answer)) throw new Error(`StartRun of ${answer.runId} queued it (maxConcurrentRuns)`);
  return answer;
}
