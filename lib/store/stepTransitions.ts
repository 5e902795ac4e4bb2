import type { SerializedError } from '../errors.ts';
import { StepStatus } from '../status.ts';
import type { ItemCondition, ItemUpdate } from './itemUpdates.ts';
import type { StepResult } from './runStore.ts';
import type { MapExpansion, StepRecord } from './types.ts';

/**
 * A step's transitions, from -> to, as data: the statuses it must be in (and the attempt
 * it must be at), the status after, and the fields each sets. The DynamoDB store turns an
 * entry into one conditional UpdateItem (ReturnValues ALL_NEW, ALL_OLD on a failed
 * condition); the in-memory store applies the same entry to its item. Outcomes, for
 * every entry: `{ ok: true, item }` (the step after), or `{ ok: false, current }` (the step
 * as it is, which failed the precondition), or `{ ok: false }` (no such step).
 */
export interface StepTransition<A> {
  /** Precondition: the step's status is one of these… */
  readonly from: (args: A) => readonly StepStatus[];
  /** …and, when it returns a number, its attempt is that one. */
  readonly attempt?: (args: A) => number | undefined;
  /** The status after; absent: unchanged. */
  readonly to?: StepStatus;
  /** Effect besides the status; `now`: the write's time (ISO). */
  readonly effect: (args: A, now: string) => ItemUpdate;
}

/** The write a transition makes: its update (with the new status) and its condition. */
export function stepWrite<A>(
  transition: StepTransition<A>,
  args: A,
  now: string,
): { update: ItemUpdate; condition: ItemCondition } {
  const effect = transition.effect(args, now);
  const attempt = transition.attempt?.(args);
  return {
    update: transition.to ? { ...effect, set: { status: transition.to, ...effect.set } } : effect,
    condition: { status: transition.from(args), ...(attempt === undefined ? {} : { attempt }) },
  };
}

export interface ClaimArgs {
  readonly attempt: number;
  readonly taskArn?: string;
  readonly fromWaiting: boolean;
}

export const StepTransitions = {
  /**
   * WAITING -> QUEUED (attempt 1), pending = 0, by the release that saw its upstream done.
   * The one writer that wins it sends the step's message, so a step is dispatched once.
   */
  queue: {
    from: () => [StepStatus.WAITING],
    to: StepStatus.QUEUED,
    effect: (args: { releasedBy?: string }, now) => ({
      set: { pending: 0, queuedAt: now, updatedAt: now, releasedBy: args.releasedBy },
    }),
  } satisfies StepTransition<{ releasedBy?: string }>,

  /**
   * An attempt waiting for a concurrency slot says it is alive (lib/step/slotDelivery.ts):
   * QUEUED (or WAITING, released by its message) attempt n -> QUEUED, updatedAt = now, so
   * reconciliation does not take its message for lost while it waits. With `since` (a wait
   * beginning), the attempt's wait start is kept if it has one (slotWaitSinceOf): a copy of
   * the attempt's message learns that its attempt already began to wait.
   */
  slotWait: {
    from: () => [StepStatus.QUEUED, StepStatus.WAITING],
    attempt: (args: { attempt: number; since?: number }) => args.attempt,
    to: StepStatus.QUEUED,
    effect: (args, now) => ({
      set: { pending: 0, updatedAt: now },
      ...(args.since === undefined ? {} : { setIfAbsent: { [slotWaitField(args.attempt)]: args.since } }),
    }),
  } satisfies StepTransition<{ attempt: number; since?: number }>,

  /** WAITING -> SKIPPED with the cause (an upstream step failed for good). */
  skip: {
    from: () => [StepStatus.WAITING],
    to: StepStatus.SKIPPED,
    effect: (args: { because: string }, now) => ({
      set: { skippedBecause: args.because, finishedAt: now, updatedAt: now },
    }),
  } satisfies StepTransition<{ because: string }>,

  /**
   * `from` (at attempt n, when given) -> CANCELED with the cause. A worker's late result for
   * the attempt then fails its own precondition.
   */
  cancel: {
    from: (args: { from: readonly StepStatus[] }) => args.from,
    attempt: (args: { attempt?: number }) => args.attempt,
    to: StepStatus.CANCELED,
    effect: (args: { because: string }, now) => ({
      set: { canceledBecause: args.because, finishedAt: now, updatedAt: now },
    }),
  } satisfies StepTransition<{ from: readonly StepStatus[]; attempt?: number; because: string }>,

  /**
   * Attempt n QUEUED -> RUNNING; or RUNNING -> RUNNING (a redelivery after the worker
   * holding it died); or, with `fromWaiting`, WAITING -> RUNNING (a step released by its
   * message alone, see releasedByMessage). claims += 1, so claims > 1 counts the workers
   * lost on it. An ECS task records itself (PollRun watches it); a Lambda claim clears an
   * older task's ARN.
   */
  claim: {
    from: (args: ClaimArgs) =>
      args.fromWaiting
        ? [StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING]
        : [StepStatus.QUEUED, StepStatus.RUNNING],
    attempt: (args: ClaimArgs) => args.attempt,
    to: StepStatus.RUNNING,
    effect: (args: ClaimArgs, now) =>
      args.taskArn
        ? {
            set: { startedAt: now, updatedAt: now, taskArn: args.taskArn, heartbeatAt: now },
            add: { claims: 1 },
          }
        : { set: { startedAt: now, updatedAt: now }, add: { claims: 1 }, remove: ['taskArn', 'heartbeatAt'] },
  } satisfies StepTransition<ClaimArgs>,

  /**
   * RUNNING attempt n -> SUCCEEDED with its output: inline when small (`{ output }`), else a
   * pointer to S3 (`{ outputKey }`); the error of an earlier attempt goes.
   */
  succeed: {
    from: () => [StepStatus.RUNNING],
    attempt: (args: { attempt: number }) => args.attempt,
    to: StepStatus.SUCCEEDED,
    effect: (args: { result: StepResult; durationMs: number }, now) => ({
      set: {
        ...('output' in args.result
          ? { output: args.result.output ?? null }
          : { outputKey: args.result.outputKey }),
        finishedAt: now,
        updatedAt: now,
        durationMs: args.durationMs,
      },
      remove: ['error'],
    }),
  } satisfies StepTransition<{ attempt: number; result: StepResult; durationMs: number }>,

  /**
   * A long step's heartbeat: RUNNING attempt n stays RUNNING, heartbeatAt and updatedAt =
   * now, so reconciliation (which re-sends a RUNNING step idle for
   * LAMBDAG_RUNNING_LOST_SECONDS) sees the task alive; a dead task's step goes stale.
   */
  heartbeat: {
    from: () => [StepStatus.RUNNING],
    attempt: (args: { attempt: number }) => args.attempt,
    effect: (_args, now) => ({ set: { heartbeatAt: now, updatedAt: now } }),
  } satisfies StepTransition<{ attempt: number }>,

  /**
   * QUEUED attempt n stays QUEUED, relaunches += 1: its ECS task stopped (or never started)
   * before claiming it, and the attempt is sent again.
   */
  relaunch: {
    from: () => [StepStatus.QUEUED],
    attempt: (args: { attempt: number }) => args.attempt,
    effect: (_args, now) => ({ set: { updatedAt: now }, add: { relaunches: 1 } }),
  } satisfies StepTransition<{ attempt: number }>,

  /** RUNNING attempt n -> FAILED for good, with the error. */
  fail: {
    from: () => [StepStatus.RUNNING],
    attempt: (args: { attempt: number }) => args.attempt,
    to: StepStatus.FAILED,
    effect: (args: { error: SerializedError }, now) => ({
      set: { error: args.error, finishedAt: now, updatedAt: now },
    }),
  } satisfies StepTransition<{ attempt: number; error: SerializedError }>,

  /**
   * RUNNING attempt n -> QUEUED as attempt n+1, the last error kept, claims and relaunches
   * back to 0; with `promote`, the step runs on ECS from attempt n+1 on (`promotedAt`).
   */
  retry: {
    from: () => [StepStatus.RUNNING],
    attempt: (args: { attempt: number }) => args.attempt,
    to: StepStatus.QUEUED,
    effect: (args: { attempt: number; error: SerializedError; promote: boolean }, now) => ({
      set: {
        attempt: args.attempt + 1,
        error: args.error,
        queuedAt: now,
        updatedAt: now,
        claims: 0,
        relaunches: 0,
        promotedAt: args.promote ? args.attempt + 1 : undefined,
      },
    }),
  } satisfies StepTransition<{ attempt: number; error: SerializedError; promote: boolean }>,

  /**
   * A map step's expansion begins: WAITING (or QUEUED: a rerun's map over a reused list is
   * sent as a root) attempt 1 -> RUNNING, its item count, and `pending` as its fan-in of
   * items (or of their shards) counts it; one winner.
   */
  expand: {
    from: () => [StepStatus.WAITING, StepStatus.QUEUED],
    attempt: () => 1,
    to: StepStatus.RUNNING,
    effect: (args: { map: MapExpansion; pending: number }, now) => ({
      set: { map: args.map, pending: args.pending, startedAt: now, updatedAt: now, claims: 1 },
    }),
  } satisfies StepTransition<{ map: MapExpansion; pending: number }>,

  /** A RUNNING map step's expansion moved on (items written, first items sent). */
  expansionProgress: {
    from: () => [StepStatus.RUNNING],
    attempt: () => 1,
    effect: (args: { map: MapExpansion }, now) => ({ set: { map: args.map, updatedAt: now } }),
  } satisfies StepTransition<{ map: MapExpansion }>,
} as const;

/** The step item's field for when attempt n began to wait for a concurrency slot (one per attempt). */
const slotWaitField = (attempt: number) => `slotWaitSince_${attempt}`;

/** When the step's attempt `attempt` began to wait for a concurrency slot (epoch ms), if it did. */
export function slotWaitSinceOf(step: StepRecord, attempt: number): number | undefined {
  const since = (step as unknown as Record<string, unknown>)[slotWaitField(attempt)];
  return typeof since === 'number' ? since : undefined;
}
