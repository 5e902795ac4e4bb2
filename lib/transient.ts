/** AWS error names that mean "try again later", across the services lambdag calls. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalError',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/**
 * Is this error from an AWS call that may well succeed if made again? Looks through
 * `cause` too: libraries wrap SDK errors (Powertools idempotency's persistence errors).
 */
export function isTransientAwsError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error)) return false;
  if (depth < 3 && error.cause !== undefined && isTransientAwsError(error.cause, depth + 1)) return true;
  const e = error as Error & {
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  if (TRANSIENT_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return e.code !== undefined && NETWORK_CODES.has(e.code);
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
      const delayMs = Math.round(random() * Math.min(options.maxMs, options.baseMs * 2 ** (tryNumber - 1)));
      options.onRetry?.(error, tryNumber, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
