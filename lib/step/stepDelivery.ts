import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import type { SQSRecord } from 'aws-lambda';
import type { CircuitBreaker } from '../aws/circuitBreaker.ts';
import { withTransientRetries } from '../aws/transient.ts';
import type { Deps } from '../deps.ts';
import { handToEcs } from '../ecs/handOff.ts';
import { CircuitOpenError, InvalidMessageError, ReleaseFailedError } from '../errors.ts';
import { classifyFailure } from '../failure.ts';
import type { AttemptEffects } from './attemptEffects.ts';
import type { IdempotentAttempt } from './idempotentAttempt.ts';
import { decodeStepMessage, deferralSeconds, type StepMessage } from './messages.ts';
import {
  decideRedelivery,
  inProgressRetrySeconds,
  type RecordFailure,
  transientRetrySeconds,
} from './redelivery.ts';
import { type AttemptSlots, runHoldingSlot } from './slotDelivery.ts';
import { defer, deliveryOf, recordDelivery, redeliver, setVisibility } from './sqsRedelivery.ts';

/** Transient AWS errors inside one delivery: this many tries, 100 ms to 2 s apart (full jitter). */
const IN_PLACE_RETRIES = { tries: 3, baseMs: 100, maxMs: 2_000 } as const;

/** What one worker invocation delivers its records with. */
export interface DeliveryContext {
  readonly deps: Deps;
  /** The invocation's idempotent runner (with its AttemptEffects). */
  readonly attempt: IdempotentAttempt;
  /** Shared by the worker's invocations: open, it hands records back unstarted. */
  readonly breaker: CircuitBreaker;
  /** Epoch ms by which an attempt must end (the invocation's deadline less a margin). */
  readonly deadline: number | undefined;
  readonly remainingMs: () => number;
  /** Keyed concurrency limits: an attempt of a limited step runs holding a slot. */
  readonly slots: AttemptSlots;
}

/**
 * Deliver one SQS record of the step queue: its attempt run through the idempotent runner,
 * an ECS step handed to a task, a message early for its `notBefore` deferred. A record that
 * fails is redelivered as lib/step/redelivery.ts decides (visibility, requeue on its last
 * receive, poison to the DLQ) and thrown, for the batch processor to report it.
 */
export async function deliverStepRecord(ctx: DeliveryContext, record: SQSRecord): Promise<unknown> {
  const { deps, breaker } = ctx;
  const blockedMs = breaker.blockedForMs();
  if (blockedMs !== undefined) {
    // Hand the record back unstarted until the circuit lets attempts through again.
    return failed(
      ctx,
      record,
      undefined,
      { kind: 'circuit-open', blockedMs },
      new CircuitOpenError(blockedMs),
    );
  }
  let message: StepMessage | undefined;
  try {
    message = await decodeStepMessage(record.body, deps.payloads);
    const deferFor = deferralSeconds(message);
    if (deferFor !== undefined) {
      // A retry delayed past SQS's 15-minute cap: back to the queue until its time.
      await defer(deps, record, message, deferFor);
      return { deferredSeconds: deferFor };
    }
    // A long step: it runs in an ECS task (ecs/main.ts), through the same runner.
    if (message.ecs) return await handToEcs(deps, message);
    const decoded = message;
    const outcome = await runHoldingSlot(deps, ctx.slots, record, message, ctx.deadline, () =>
      runInPlace(ctx, record, decoded),
    );
    breaker.success();
    return outcome;
  } catch (error) {
    return failed(ctx, record, message, classify(ctx, record, message, error), error);
  }
}

/** The attempt, tried again in place on a transient AWS error while the circuit stays closed. */
function runInPlace(ctx: DeliveryContext, record: SQSRecord, message: StepMessage) {
  const { deps, breaker, deadline } = ctx;
  return withTransientRetries(
    () =>
      ctx.attempt.run(message, {
        delivery: deliveryOf(record),
        ...(deadline === undefined ? {} : { deadline }),
      }),
    {
      ...IN_PLACE_RETRIES,
      giveUp: () => breaker.isOpen,
      onRetry: (error, tryNumber, delayMs) => {
        breaker.transientFailure();
        deps.log.warn('transient AWS error; trying the attempt again in place', {
          runId: message.runId,
          step: message.step,
          attempt: message.attempt,
          tryNumber,
          delayMs,
          error,
        });
      },
    },
  );
}

/** What kind of failure `error` is, as the redelivery policy reads it (logged on the way). */
function classify(
  ctx: DeliveryContext,
  record: SQSRecord,
  message: StepMessage | undefined,
  error: unknown,
): RecordFailure {
  const { deps } = ctx;
  const where = { runId: message?.runId, step: message?.step };
  if (error instanceof InvalidMessageError) {
    deps.log.warn('poison step message; on its way to the DLQ', {
      messageId: record.messageId,
      receiveCount: recordDelivery(record).receiveCount,
      reason: error.message,
    });
    return { kind: 'poison' };
  }
  if (error instanceof IdempotencyAlreadyInProgressError) {
    return { kind: 'in-progress', retryInSeconds: inProgressRetrySeconds(error, ctx.remainingMs()) };
  }
  if (classifyFailure(error).transient) {
    ctx.breaker.transientFailure();
    deps.log.warn('step attempt hit a transient AWS error; it will be delivered again', {
      ...where,
      receiveCount: recordDelivery(record).receiveCount,
      error,
    });
    return { kind: 'transient' };
  }
  deps.log.error('step attempt failed to process', { ...where, error });
  return { kind: 'error' };
}

/** Redeliver a failed record: done if it was requeued (its copy carries on), else thrown. */
async function failed(
  ctx: DeliveryContext,
  record: SQSRecord,
  message: StepMessage | undefined,
  failure: RecordFailure,
  error: unknown,
) {
  const delivery = recordDelivery(record);
  const decision = decideRedelivery(failure, delivery, { maxReceiveCount: ctx.deps.config.maxReceiveCount });
  if (await redeliver(ctx.deps, record, message, decision)) return { requeued: delivery.requeues + 1 };
  throw error;
}

/**
 * Write what the invocation's attempts gathered (AttemptEffects.flush). If a fan-in release
 * could not be written the invocation fails and its whole batch comes back: in seconds, not
 * after the queue's visibility timeout (which outlasts the longest step).
 */
export async function flushAttempts(
  deps: Deps,
  effects: AttemptEffects,
  records: readonly SQSRecord[],
): Promise<void> {
  try {
    await effects.flush();
  } catch (error) {
    if (error instanceof ReleaseFailedError) {
      await Promise.all(
        records.map((r) => setVisibility(deps, r, transientRetrySeconds(recordDelivery(r).receiveCount))),
      );
    }
    throw error;
  }
}
