import type { BackoffOptions } from './job.ts';

export const DEFAULT_BACKOFF = { baseSeconds: 1, maxSeconds: 300 } as const;

/**
 * Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
 * `attempt` is the attempt that just failed (1 for the first).
 */
export function retryDelaySeconds(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseSeconds ?? DEFAULT_BACKOFF.baseSeconds;
  const max = options.maxSeconds ?? DEFAULT_BACKOFF.maxSeconds;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}
