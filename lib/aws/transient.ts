import { backoffDelay, sleep } from '../backoff.ts';
import { classifyFailure } from '../failure.ts';

/**
 * Is this error from an AWS call that may well succeed if made again? (classifyFailure's
 * `transient`, looking through `cause` too.)
 */
export function isTransientAwsError(error: unknown): boolean {
  return classifyFailure(error).transient;
}

export interface TransientRetryOptions {
  /** Tries in all, the first included. */
  readonly tries: number;
  readonly baseMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
  /** Stop early (for example, the circuit opened). */
  readonly giveUp?: () => boolean;
  readonly onRetry?: (error: unknown, tryNumber: number, delayMs: number) => void;
}

/**
 * Calls `fn` again after a transient AWS error, waiting with exponential backoff and
 * full jitter, so a brief burst of throttling is absorbed in place instead of costing
 * a redelivery. Any other error, or the last transient one, is thrown.
 */
export async function withTransientRetries<T>(
  fn: () => Promise<T>,
  options: TransientRetryOptions,
): Promise<T> {
  const random = options.random ?? Math.random;
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransientAwsError(error) || tryNumber >= options.tries || options.giveUp?.()) throw error;
      const delayMs = Math.round(
        backoffDelay(tryNumber, { base: options.baseMs, cap: options.maxMs }, random),
      );
      options.onRetry?.(error, tryNumber, delayMs);
      await sleep(delayMs);
    }
  }
}
