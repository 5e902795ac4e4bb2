import type { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { retryDelaySeconds } from '../backoff.ts';

/**
 * The step worker's redelivery policy, pure: given how a record's attempt ended and where
 * the record is in its receives, what happens to the message. The SQS calls that carry a
 * decision out are in lib/step/sqsRedelivery.ts; the handler (handlers/stepWorker.ts) only
 * asks and applies.
 */

/** Where a record is in its life: SQS's receive count and lambdag's own requeue count. */
export interface RecordDelivery {
  /** ApproximateReceiveCount of this message (1 on its first receive). */
  readonly receiveCount: number;
  /** How often this message's delivery already went back to its queue on a last receive. */
  readonly requeues: number;
}

export interface RedeliveryLimits {
  /** The queue's maxReceiveCount: the receive after which SQS moves the message to the DLQ. */
  readonly maxReceiveCount: number;
}

/** Why a record did not finish its attempt. */
export type RecordFailure =
  /** The circuit breaker is open: the record was handed back unstarted. */
  | { readonly kind: 'circuit-open'; readonly blockedMs: number }
  /** The message can never be run (InvalidMessageError). */
  | { readonly kind: 'poison' }
  /** Another delivery holds the attempt; its in-progress record says for how long. */
  | { readonly kind: 'in-progress'; readonly retryInSeconds: number }
  /** A transient AWS error, or any other infrastructure failure. */
  | { readonly kind: 'transient' }
  | { readonly kind: 'error' };

/** What to do with a failed record. */
export type Redelivery =
  /**
   * The last receive of a healthy message: send it to its queue again as a new message
   * (a duplicate at worst) after `delaySeconds`, as requeue number `requeues`, and let the
   * record succeed; if the send fails, fall back to `visibilitySeconds` and fail it.
   */
  | {
      readonly action: 'requeue';
      readonly delaySeconds: number;
      readonly requeues: number;
      readonly visibilitySeconds: number;
    }
  /** Fail the record (SQS redelivers it) after this many seconds, not the queue's visibility timeout. */
  | { readonly action: 'retry'; readonly visibilitySeconds: number };

/** Requeues on the last receive before a failing message is left to the DLQ. */
export const MAX_REQUEUES = 3;

/** SQS caps a message's visibility timeout at 12 hours. */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** Redeliveries after a transient error spread out: full jitter up to 2^receives seconds, at most 5 minutes. */
const TRANSIENT_BACKOFF = { baseSeconds: 1, maxSeconds: 300 } as const;

/**
 * Decide a failed record's redelivery:
 * - poison comes back at once (visibility 0), to hurry through its receives to the DLQ,
 *   and is never requeued;
 * - an attempt held elsewhere comes back when the holder's in-progress record expires;
 * - a transient or other error comes back after a jittered backoff on its receive count;
 * - an open circuit hands the record back for the circuit's cool-down.
 * A healthy step must not reach the DLQ because AWS throttled or workers crashed around it:
 * on its last receive before the DLQ, any of these but poison is requeued as a new message,
 * at most MAX_REQUEUES times, after which the DLQ has it.
 */
export function decideRedelivery(
  failure: RecordFailure,
  delivery: RecordDelivery,
  limits: RedeliveryLimits,
  random: () => number = Math.random,
): Redelivery {
  if (failure.kind === 'poison') return { action: 'retry', visibilitySeconds: 0 };
  const seconds = retrySecondsOf(failure, delivery, random);
  const lastReceive = delivery.receiveCount >= limits.maxReceiveCount - 1;
  if (lastReceive && delivery.requeues < MAX_REQUEUES) {
    return {
      action: 'requeue',
      delaySeconds: seconds,
      requeues: delivery.requeues + 1,
      visibilitySeconds: seconds,
    };
  }
  return { action: 'retry', visibilitySeconds: seconds };
}

function retrySecondsOf(failure: RecordFailure, delivery: RecordDelivery, random: () => number): number {
  switch (failure.kind) {
    case 'circuit-open':
      return Math.ceil(failure.blockedMs / 1000);
    case 'in-progress':
      return failure.retryInSeconds;
    case 'transient':
    case 'error':
      return transientRetrySeconds(delivery.receiveCount, random);
    case 'poison':
      return 0;
    default:
      return failure satisfies never;
  }
}

/**
 * When a record comes back after a transient error: full jitter up to 2^receives seconds
 * (at most 5 minutes), never at once. Also what a whole batch gets when its fan-in release
 * could not be written.
 */
export function transientRetrySeconds(receiveCount: number, random: () => number = Math.random): number {
  // retryDelaySeconds(n) draws from [0, base * 2^(n-1)]: receive r gets [0, 2^r].
  return Math.max(1, retryDelaySeconds(receiveCount + 1, TRANSIENT_BACKOFF, random));
}

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
