import { LambdagError, type LambdagErrorClass, Retry, type RetryPolicy } from './errors.ts';

/** AWS error names that mean "try again later", across the services lambdag calls. */
const TRANSIENT_AWS_NAMES = new Set([
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

/** How deep `cause` chains are followed: libraries wrap SDK errors (Powertools idempotency's). */
const MAX_CAUSE_DEPTH = 3;

/**
 * What a failure means for trying again; the one place lambdag decides it.
 *
 * - lambdag's own errors: the policy their class declares (`static retry` in lib/errors.ts).
 * - Errors of the AWS SDK (and of the network under it): transient when the SDK marks them
 *   retryable, their name is a throttling or availability error, their status is 5xx or the
 *   connection dropped.
 * - Anything else (step code's own errors): retryable, not transient; a step's `retryable`
 *   option and `NonRetryableError` narrow it.
 *
 * Transient anywhere in the `cause` chain makes the whole failure transient.
 *
 * @example
 * classifyFailure(new NonRetryableError('bad row')); // { retryable: false, transient: false }
 * classifyFailure(throttlingFromTheSdk); // { retryable: true, transient: true }
 */
export function classifyFailure(error: unknown): RetryPolicy {
  const own = ownPolicy(error);
  if (own.transient || !causeIsTransient(error)) return own;
  return Retry.TRANSIENT;
}

function ownPolicy(error: unknown): RetryPolicy {
  if (error instanceof LambdagError) {
    // Statics are inherited, so step code's subclasses of NonRetryableError keep its policy.
    return (error.constructor as Partial<LambdagErrorClass>).retry ?? Retry.RETRYABLE;
  }
  return isTransientAwsShape(error) ? Retry.TRANSIENT : Retry.RETRYABLE;
}

function causeIsTransient(error: unknown): boolean {
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && cause !== undefined; depth++) {
    if (ownPolicy(cause).transient) return true;
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return false;
}

function isTransientAwsShape(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & {
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  if (TRANSIENT_AWS_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return e.code !== undefined && NETWORK_CODES.has(e.code);
}
