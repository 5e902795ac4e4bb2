import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DEFAULT_QUEUE, type LambdagConfig } from '../aws/config.ts';
import { backoffSleep } from '../backoff.ts';
import { forEachLimit } from '../concurrency.ts';
import { DispatchFailedError, InvalidJobError, MessagesRejectedError } from '../errors.ts';
import { type JobPlan, stepSpecOf } from '../job/dag.ts';
import { OnLambdaTimeout, Runtime } from '../job/defineJob.ts';
import { messageGroupOf } from '../job/fairness.ts';
import { bandOf, effectivePriority, PriorityBand } from '../job/priority.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import { encodeStepMessage, MAX_DELAY_SECONDS, type StepMessage } from './messages.ts';
import type { PayloadStore } from './payload.ts';

export interface DispatchItem {
  readonly step: string;
  readonly attempt: number;
  readonly delaySeconds?: number;
  /** The step was promoted to ECS at this attempt (StepRecord.promotedAt): it runs on ECS. */
  readonly promotedAt?: number;
  /** Upstream outputs the message carries (StepMessage.upstream). */
  readonly upstream?: Readonly<Record<string, unknown>>;
}

/**
 * A re-send of a step's current attempt, as its item records it: on ECS again if the step
 * was promoted there (a re-send without `promotedAt` would run it on Lambda).
 */
export function currentAttemptOf(step: StepRecord): DispatchItem {
  return {
    step: step.key,
    attempt: step.attempt,
    ...(step.promotedAt === undefined ? {} : { promotedAt: step.promotedAt }),
  };
}

export interface RunRef {
  readonly runId: string;
  readonly job: string;
  readonly input: unknown;
  /** The run's expiry (RunRecord.expiresAt), carried by its step messages. */
  readonly expiresAt?: number;
  /** The run's priority (RunRecord.priority), carried by its step messages. */
  readonly priority?: number;
}

/** The reference step messages carry of a run. */
export const runRefOf = (run: RunRecord, input: unknown): RunRef => ({
  runId: run.runId,
  job: run.job,
  input,
  ...(run.expiresAt === undefined ? {} : { expiresAt: run.expiresAt }),
  ...(run.priority === undefined ? {} : { priority: run.priority }),
});

/** The run as a step message refers to it: the steps the message's attempt releases go with it. */
export const runRefOfMessage = (message: StepMessage): RunRef => ({
  runId: message.runId,
  job: message.job,
  input: message.input,
  ...(message.expiresAt === undefined ? {} : { expiresAt: message.expiresAt }),
  ...(message.priority === undefined ? {} : { priority: message.priority }),
});

const BATCH_ENTRIES = 10;
/** SendMessageBatch requests in flight per dispatch. */
const PARALLEL_SENDS = 16;
/** Resends of the entries SQS failed in a batch: up to 200, 400, 800 ms... apart, at most 2 s. */
const SEND_RETRY_BACKOFF = { base: 200, cap: 2_000 } as const;

/** Sends step attempts to their step queues, batched, with the claim check for large bodies. */
export class Dispatcher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly config: LambdagConfig,
    private readonly payloads: PayloadStore,
  ) {}

  /**
   * The queue a step is routed to: its `queue`, else its priority's band (the step's
   * priority, else the run's); the high band goes to the default queue where there is no
   * `high` one.
   */
  queueName(plan: JobPlan, step: string, runPriority?: number): string {
    const options = stepSpecOf(plan, step)?.options ?? {};
    if (options.queue) return options.queue.toLowerCase();
    const band = bandOf(effectivePriority(options.priority, runPriority));
    return band === PriorityBand.HIGH && this.config.queues.high ? PriorityBand.HIGH : DEFAULT_QUEUE;
  }

  /** Fail before anything is written if a step routes to a queue this deployment lacks. */
  checkRouting(plan: JobPlan): void {
    for (const key of plan.order) {
      const options = plan.steps.get(key)?.options;
      const wantsEcs =
        options?.runtime === Runtime.ECS
          ? "runtime 'ecs'"
          : options?.onLambdaTimeout === OnLambdaTimeout.ECS
            ? "onLambdaTimeout 'ecs'"
            : undefined;
      if (wantsEcs && !this.config.ecs) {
        throw new InvalidJobError(
          plan.job,
          `step '${key}' has ${wantsEcs}, but this deployment has no ECS (LAMBDAG_ECS_CLUSTER is not set)`,
          [key],
        );
      }
      const name = this.queueName(plan, key);
      if (!this.config.queues[name]) {
        throw new InvalidJobError(
          plan.job,
          `step '${key}' routes to queue '${name}', but no LAMBDAG_QUEUE_URL_${name.toUpperCase()} is configured (known: ${Object.keys(this.config.queues).join(', ')})`,
          [key],
        );
      }
    }
  }

  async dispatch(run: RunRef, plan: JobPlan, items: readonly DispatchItem[]): Promise<void> {
    const byQueue = new Map<string, SendMessageBatchRequestEntry[]>();
    // The run's turn on a fair queue: its tenant's, so a big run's backlog does not hold back others.
    const group = messageGroupOf(run.runId, plan.fairnessKey);
    for (const [index, item] of items.entries()) {
      const url = this.config.queues[this.queueName(plan, item.step, run.priority)] as string;
      const body = await encodeStepMessage(
        stepMessageOf(run, plan, item),
        this.payloads,
        this.config.maxMessageBytes,
      );
      const entry: SendMessageBatchRequestEntry = {
        Id: String(index),
        MessageBody: body,
        MessageGroupId: group,
      };
      if (item.delaySeconds) entry.DelaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, item.delaySeconds));
      const list = byQueue.get(url) ?? [];
      list.push(entry);
      byQueue.set(url, list);
    }
    await Promise.all([...byQueue].map(([url, entries]) => this.sendAll(url, entries)));
  }

  /** Batches of at most 10 entries and the queue's maximum total size; failed entries are retried. */
  private async sendAll(url: string, entries: SendMessageBatchRequestEntry[]): Promise<void> {
    const batches: SendMessageBatchRequestEntry[][] = [];
    let current: SendMessageBatchRequestEntry[] = [];
    let size = 0;
    for (const entry of entries) {
      const bytes = Buffer.byteLength(entry.MessageBody ?? '');
      if (
        current.length === BATCH_ENTRIES ||
        (current.length > 0 && size + bytes > this.config.maxMessageBytes)
      ) {
        batches.push(current);
        current = [];
        size = 0;
      }
      current.push(entry);
      size += bytes;
    }
    if (current.length) batches.push(current);
    // Bounded: releasing a 100,000-way fan-out is 10,000 batches, which at once would queue
    // behind the SDK's 50 sockets (and hold every request in memory) on AWS as here.
    await forEachLimit(batches, PARALLEL_SENDS, (batch) => this.sendBatch(url, batch));
  }

  private async sendBatch(url: string, entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) await backoffSleep(round, SEND_RETRY_BACKOFF);
      const out = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: pending }));
      const failed = out.Failed ?? [];
      const permanent = failed.filter((f) => f.SenderFault);
      if (permanent.length > 0) {
        throw new MessagesRejectedError(permanent.map((f) => `${f.Code}: ${f.Message}`));
      }
      if (round >= 5 && failed.length > 0) throw new DispatchFailedError(failed.length);
      const ids = new Set(failed.map((f) => f.Id));
      pending = pending.filter((e) => ids.has(e.Id));
    }
  }
}

/** The message that sends one step attempt of a run. */
export function stepMessageOf(run: RunRef, plan: JobPlan, item: DispatchItem): StepMessage {
  const delay = Math.max(0, item.delaySeconds ?? 0);
  return {
    v: 1,
    runId: run.runId,
    job: run.job,
    step: item.step,
    attempt: item.attempt,
    input: run.input,
    ...(run.expiresAt === undefined ? {} : { expiresAt: run.expiresAt }),
    ...(run.priority === undefined ? {} : { priority: run.priority }),
    ...(plan.fairnessKey === undefined ? {} : { fairnessKey: plan.fairnessKey }),
    // Past SQS's cap, the worker sends the message back until its time comes.
    ...(delay > MAX_DELAY_SECONDS ? { notBefore: Date.now() + delay * 1000 } : {}),
    ...ecsOf(plan, item),
    ...(item.upstream ? { upstream: { ...item.upstream } } : {}),
  };
}

/** The `ecs` part of a step message: present for `runtime: 'ecs'` steps and promoted ones. */
function ecsOf(plan: JobPlan, item: DispatchItem): Pick<StepMessage, 'ecs'> {
  const options = stepSpecOf(plan, item.step)?.options;
  if (options?.runtime !== Runtime.ECS && item.promotedAt === undefined) return {};
  return {
    ecs: {
      ...(options?.cpu ? { cpu: options.cpu } : {}),
      ...(options?.memoryMb ? { memoryMb: options.memoryMb } : {}),
      ...(item.promotedAt === undefined ? {} : { promotedAt: item.promotedAt }),
    },
  };
}
