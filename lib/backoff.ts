import type { BackoffOptions } from './job/defineJob.ts';

/**
 * The one backoff lambdag waits with: a step's retry delay, the in-place retries of a
 * transient AWS error, the resends of SQS and DynamoDB batch entries, the circuit
 * breaker's cool-down, a worker's redelivery delay. Exponential (the ceiling doubles
 * with each try, up to a cap) with jitter, so many callers failing at once do not all
 * come back at once.
 */
export interface BackoffPolicy {
  /** The ceiling of the first try's delay, in the caller's unit (seconds or ms). */
  readonly base: number;
  /** No delay exceeds this, in the same unit. */
  readonly cap: number;
  /**
   * `full` (default): uniform in [0, ceiling], the best spread. `half`: uniform in
   * [ceiling / 2, ceiling], for a wait that must last at least half its ceiling (a cool-down).
   */
  readonly jitter?: Jitter;
}

export const Jitter = { FULL: 'full', HALF: 'half' } as const;
export type Jitter = (typeof Jitter)[keyof typeof Jitter];

/** `min(cap, base * 2^(n-1))`: the largest delay before try `n` (1 for the first retry). */
export function backoffCeiling(n: number, policy: BackoffPolicy): number {
  return Math.min(policy.cap, policy.base * 2 ** Math.max(0, n - 1));
}

/**
 * The delay before retry `n` (1 for the first), jittered under its ceiling; not rounded
 * (callers round to their unit). `random` is injectable so tests can pin the jitter.
 *
 * @example
 * backoffDelay(3, { base: 100, cap: 2_000 }); // uniform in [0, 400]
 * backoffDelay(3, { base: 1_000, cap: 30_000, jitter: 'half' }); // uniform in [2_000, 4_000]
 */
export function backoffDelay(n: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(n, policy);
  return policy.jitter === Jitter.HALF ? ceiling / 2 + (random() * ceiling) / 2 : random() * ceiling;
}

/** Wait for retry `n` per `policy` (ms). */
export function backoffSleep(
  n: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): Promise<void> {
  return sleep(backoffDelay(n, policy, random));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const DEFAULT_BACKOFF = { baseSeconds: 1, maxSeconds: 300 } as const;

/**
 * A step's retry delay in whole seconds, from its `backoff` option: full jitter, uniform in
 * [0, min(max, base * 2^(attempt-1))]. `attempt` is the attempt that just failed (1 for the first).
 */
export function retryDelaySeconds(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const policy = {
    base: options.baseSeconds ?? DEFAULT_BACKOFF.baseSeconds,
    cap: options.maxSeconds ?? DEFAULT_BACKOFF.maxSeconds,
  };
  return Math.round(backoffDelay(attempt, policy, random));
}
