import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { ChangeMessageVisibilityCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { AttemptBatch } from '../lib/attemptBatch.ts';
import { CircuitBreaker } from '../lib/circuitBreaker.ts';
import type { Deps } from '../lib/deps.ts';
import { CircuitOpenError, InvalidMessageError, ReleaseFailedError } from '../lib/errors.ts';
import { createIdempotentAttempt, type IdempotentAttempt } from '../lib/idempotentAttempt.ts';
import { decodeStepMessage, deferralSeconds, MAX_DELAY_SECONDS, type StepMessage } from '../lib/messages.ts';
import { type RunnerHooks, StepRunner } from '../lib/runner.ts';
import { StepStatus } from '../lib/status.ts';
import { isTransientAwsError, withTransientRetries } from '../lib/transient.ts';
import { deadlineOf, lazyDeps, logRequestMetrics } from './shared.ts';

/**
 * The step worker: an SQS event source with ReportBatchItemFailures. Each record is
 * one step attempt run through the idempotent runner; a record that fails (in
 * progress elsewhere, an infrastructure error, a poison message) is reported as a
 * batch item failure and redelivered by SQS, and after maxReceiveCount lands in the DLQ.
 */
export function createHandler(
  getDeps: () => Deps,
  hooks: RunnerHooks = {},
  breaker: CircuitBreaker = new CircuitBreaker(),
) {
  let runner: StepRunner | undefined;
  let attempt: IdempotentAttempt | undefined;
  return middy(async (event: SQSEvent, context: Context) => {
    const deps = getDeps();
    runner ??= new StepRunner(deps, hooks);
    attempt ??= createIdempotentAttempt(deps, runner);
    const runAttempt = attempt;
    runAttempt.registerLambdaContext(context);
    const deadline = deadlineOf(context);
    // This invocation's successes write their counters and events together, at the end.
    const batch = new AttemptBatch(deps, runner.statuses);
    const recordHandler = async (record: SQSRecord) => {
      const blockedMs = breaker.blockedForMs();
      if (blockedMs !== undefined) {
        // Hand the record back unstarted until the circuit lets attempts through again.
        if (
          receiveCount(record) >= deps.config.maxReceiveCount - 1 &&
          (await requeue(deps, record, Math.ceil(blockedMs / 1000)))
        ) {
          return { requeued: requeuesOf(record) + 1 };
        }
        await setVisibility(deps, record, Math.ceil(blockedMs / 1000));
        throw new CircuitOpenError(blockedMs);
      }
      let message: StepMessage | undefined;
      try {
        message = await decodeStepMessage(record.body, deps.payloads);
        const deferFor = deferralSeconds(message);
        if (deferFor !== undefined) {
          // A retry delayed past SQS's 15-minute cap: back to the queue until its time.
          await sendBack(deps, record, deferFor, requeuesOf(record));
          return { deferredSeconds: deferFor };
        }
        if (message.ecs) {
          // A long step: it runs in an ECS task (ecs/main.ts), through the same runner.
          return await handToEcs(deps, message);
        }
        const decoded = message;
        const outcome = await withTransientRetries(
          () =>
            runAttempt.run(decoded, {
              batch,
              delivery: deliveryOf(record),
              ...(deadline === undefined ? {} : { deadline }),
            }),
          {
            ...IN_PLACE_RETRIES,
            giveUp: () => breaker.isOpen,
            onRetry: (error, tryNumber, delayMs) => {
              breaker.transientFailure();
              deps.log.warn('transient AWS error; trying the attempt again in place', {
                runId: decoded.runId,
                step: decoded.step,
                attempt: decoded.attempt,
                tryNumber,
                delayMs,
                error,
              });
            },
          },
        );
        breaker.success();
        return outcome;
      } catch (error) {
        if (error instanceof InvalidMessageError) {
          // A poison message never gets better: hurry it through its receives to the DLQ.
          deps.log.warn('poison step message; on its way to the DLQ', {
            messageId: record.messageId,
            receiveCount: receiveCount(record),
            reason: error.message,
          });
          await setVisibility(deps, record, 0);
          throw error;
        }
        let retryInSeconds: number;
        if (error instanceof IdempotencyAlreadyInProgressError) {
          retryInSeconds = inProgressRetrySeconds(error, context.getRemainingTimeInMillis());
        } else if (isTransientAwsError(error)) {
          breaker.transientFailure();
          retryInSeconds = transientRetrySeconds(record);
          deps.log.warn('step attempt hit a transient AWS error; it will be delivered again', {
            runId: message?.runId,
            step: message?.step,
            receiveCount: receiveCount(record),
            error,
          });
        } else {
          retryInSeconds = transientRetrySeconds(record);
          deps.log.error('step attempt failed to process', {
            runId: message?.runId,
            step: message?.step,
            error,
          });
        }
        // A healthy step must not reach the DLQ because AWS throttled or workers crashed
        // around it: on its last receive it goes back to its queue as a new message (a
        // duplicate at worst), a bounded number of times, after which the DLQ has it.
        if (
          receiveCount(record) >= deps.config.maxReceiveCount - 1 &&
          requeuesOf(record) < MAX_REQUEUES &&
          (await requeue(deps, record, retryInSeconds))
        ) {
          return { requeued: requeuesOf(record) + 1 };
        }
        await setVisibility(deps, record, retryInSeconds);
        throw error;
      }
    };
    // A batch whose every record failed is reported record by record too (same redelivery), not thrown.
    // One processor per invocation: it keeps the batch's successes and failures, and the
    // embedded stack runs concurrent invocations in one process (Lambda never does), where
    // a shared processor reports one batch's failures in another's response.
    try {
      return await processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), {
        context,
        throwOnFullBatchFailure: false,
      });
    } finally {
      await batch.flush().catch(async (error: unknown) => {
        // The invocation fails and its whole batch comes back: in seconds, not after the
        // queue's visibility timeout (which outlasts the longest step).
        if (error instanceof ReleaseFailedError) {
          await Promise.all(event.Records.map((r) => setVisibility(deps, r, transientRetrySeconds(r))));
        }
        throw error;
      });
    }
  }).use(logRequestMetrics());
}

/**
 * Start an ECS task for the attempt and record it on the run, where PollRun supervises it.
 * Only a QUEUED attempt gets a task: a duplicate delivery of one that a task already claimed
 * makes sure that task is supervised (the first delivery may have died before recording it),
 * and any other (stale) delivery is dropped.
 */
async function handToEcs(deps: Deps, message: StepMessage) {
  const { runId, step, attempt } = message;
  const current = await deps.store.getStep(runId, step);
  if (current?.attempt === attempt && current.status === StepStatus.RUNNING && current.taskArn) {
    await deps.store.trackTask(runId, { step, attempt, taskArn: current.taskArn });
    return { taskArn: current.taskArn, duplicate: true };
  }
  if (current?.attempt !== attempt || current.status !== StepStatus.QUEUED) {
    deps.log.info('stale ECS step message ignored', { runId, step, attempt, current: current?.status });
    return { stale: true };
  }
  const taskArn = await deps.ecsTasks.launch(message);
  await deps.store.trackTask(runId, { step, attempt, taskArn });
  deps.log.info('step handed to an ECS task', { runId, step, attempt, taskArn });
  return { taskArn };
}

/** Transient AWS errors inside one delivery: this many tries, 100 ms to 2 s apart (full jitter). */
const IN_PLACE_RETRIES = { tries: 3, baseMs: 100, maxMs: 2_000 } as const;

const receiveCount = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount ?? 1);

/** SQS caps a message's visibility timeout at 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * When to look again at an attempt another delivery holds. Its in-progress record
 * expires with that delivery's invocation, so coming back just after that expiry
 * costs one receive per holder, where a short fixed backoff would spend the
 * message's receives while a crashed holder's record outlives them, and send a
 * healthy step to the DLQ. When the record does not say (DynamoDB returns it with the
 * failed condition; some emulators do not), the holder's deadline is at most one
 * invocation away: this invocation's own remaining time bounds it.
 */
export function inProgressRetrySeconds(
  error: IdempotencyAlreadyInProgressError,
  remainingMs: number,
  now = Date.now(),
): number {
  const expiry = error.existingRecord?.inProgressExpiryTimestamp;
  const waitMs = expiry === undefined ? remainingMs : expiry - now;
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, Math.ceil(waitMs / 1000) + 1));
}

/**
 * When a failed record comes back, instead of the queue's whole visibility timeout:
 * when its holder's in-progress record expires, at once for poison, after a jittered
 * backoff for a transient error, after the cool-down while the circuit is open.
 */
async function setVisibility(deps: Deps, record: SQSRecord, seconds: number): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url) return;
  try {
    await deps.aws.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    // The record still fails; it comes back after the queue's own visibility timeout.
    deps.log.warn('could not change the visibility of a failed record', {
      messageId: record.messageId,
      error,
    });
  }
}

/** Redeliveries after a transient error spread out: full jitter up to 2^receives seconds (at most 5 minutes). */
function transientRetrySeconds(record: SQSRecord): number {
  return Math.max(1, Math.round(Math.random() * Math.min(300, 2 ** receiveCount(record))));
}

/** How often a message went back to its queue on its last receive (a message attribute). */
const REQUEUES_ATTRIBUTE = 'LambdagRequeues';
/** Requeues on the last receive before a failing message is left to the DLQ. */
const MAX_REQUEUES = 3;

const requeuesOf = (record: SQSRecord) =>
  Number(record.messageAttributes?.[REQUEUES_ATTRIBUTE]?.stringValue ?? 0) || 0;

/** The message id of the delivery a record continues (set on the copies sendBack makes). */
const DELIVERY_ATTRIBUTE = 'LambdagDelivery';

/**
 * Which delivery this record is: its message id, or, for a copy sent back to the queue (a
 * requeue on the last receive, a deferral), the id of the message it continues. The
 * runner records it on the steps it releases, so only a later try of the same delivery
 * re-sends one of them.
 */
const deliveryOf = (record: SQSRecord) =>
  record.messageAttributes?.[DELIVERY_ATTRIBUTE]?.stringValue ?? record.messageId;

/** Send the record's body to its queue again as a new message, delayed, with its requeue count. */
async function sendBack(
  deps: Deps,
  record: SQSRecord,
  delaySeconds: number,
  requeues: number,
): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url) throw new Error(`no configured step queue for ${record.eventSourceARN}`);
  await deps.aws.sqs.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: record.body,
      DelaySeconds: Math.min(MAX_DELAY_SECONDS, delaySeconds),
      MessageAttributes: {
        // The copy goes on as the same delivery (see deliveryOf).
        [DELIVERY_ATTRIBUTE]: { DataType: 'String', StringValue: deliveryOf(record) },
        ...(requeues > 0
          ? { [REQUEUES_ATTRIBUTE]: { DataType: 'Number', StringValue: String(requeues) } }
          : {}),
      },
    }),
  );
}

/** Send the record's body again as a new message, delayed; true when it was sent. */
async function requeue(deps: Deps, record: SQSRecord, delaySeconds: number): Promise<boolean> {
  try {
    await sendBack(deps, record, delaySeconds, requeuesOf(record) + 1);
    return true;
  } catch (error) {
    deps.log.warn('could not requeue the step message; it stays on its receives', {
      messageId: record.messageId,
      error,
    });
    return false;
  }
}

function queueUrlOf(deps: Deps, arn: string): string | undefined {
  const name = arn.split(':').at(-1);
  return Object.values(deps.config.queues).find((url) => url.endsWith(`/${name}`));
}

export const handler = createHandler(lazyDeps());
