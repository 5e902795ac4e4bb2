/**
 * The timing of run-level limits (a job's `maxConcurrentRuns`, docs/concurrency.md), pure:
 * how long a run's slot lease lasts, when PollRun renews it, and how long a QUEUED run's
 * execution waits between asks. lib/run/runQueue.ts applies them.
 */

/**
 * A running run's lease on its slot lasts this long from its last renewal. A run can last
 * days, so the lease is renewed by PollRun rather than sized from a deadline the run may
 * not have; it only has to outlast the gap between two PollRuns (at most 30 s of Wait,
 * plus PollRun's retries, about 2 minutes) by far, and be short enough that a run whose
 * execution vanished without a trace frees its slot within minutes.
 */
export const RUN_LEASE_MS = 10 * 60_000;

/** PollRun renews the lease once less than this is left of it: about one write per 5 minutes. */
export const RUN_LEASE_RENEW_MS = RUN_LEASE_MS / 2;

/** A queued run asks again after at most this. */
export const MAX_QUEUED_WAIT_SECONDS = 30;

/**
 * A queued run's wait before its next ask: a tenth of how long it has waited, from 1 s to
 * 30 s. A run queued behind a short one starts within a second or two of the slot freeing;
 * one queued behind hours of runs asks twice a minute, not every second (each ask is a
 * StartRun invocation, 2 Queries and a PutItem, and 4 state transitions).
 */
export function queuedRunWaitSeconds(waitedMs: number): number {
  return Math.min(MAX_QUEUED_WAIT_SECONDS, Math.max(1, Math.round(waitedMs / 10_000)));
}

/** Is the lease that ends at `until` (epoch ms; unknown: undefined) due for renewal at `now`? */
export function renewalDue(until: number | undefined, now: number): boolean {
  return until === undefined || until - now < RUN_LEASE_RENEW_MS;
}
