import { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { registry } from '../examples/registry.ts';
import { RequestMetrics } from '../lib/aws/requestMetrics.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { TransientAwsError } from '../lib/errors.ts';
import { classifyFailure } from '../lib/failure.ts';

/**
 * Deps are built once per Lambda container, on first use (not at import), so the
 * environment in force at the first invocation is the one used.
 */
export function lazyDeps(): () => Deps {
  let deps: Deps | undefined;
  return () => {
    if (!deps) {
      deps = createDeps(registry);
      if (deps.config.requestMetrics) requestMetrics.install(deps.aws);
    }
    return deps;
  };
}

/**
 * With `LAMBDAG_REQUEST_METRICS=1`, the AWS requests each invocation made, by operation,
 * are logged at its end (`aws requests` lines: sum them in CloudWatch Logs Insights).
 */
export const requestMetrics = new RequestMetrics();

export function logRequestMetrics(): MiddlewareObj {
  const flush = async (request: { context: Context }) => {
    if (requestMetrics.total() === 0) return;
    const counts = requestMetrics.snapshot();
    requestMetrics.reset();
    logger.info('aws requests', { functionName: request.context.functionName, requests: counts });
  };
  return { after: flush, onError: flush };
}

const logger = new Logger({ serviceName: 'lambdag' });

/** Epoch ms by which work in this invocation must end, leaving a margin to record the outcome. */
export function deadlineOf(context: Context | undefined, marginMs = 5_000): number | undefined {
  if (!context?.getRemainingTimeInMillis) return undefined;
  return Date.now() + Math.max(1_000, context.getRemainingTimeInMillis() - marginMs);
}

/**
 * Middy: an AWS failure that passes (throttling, 5xx) leaves the handler as
 * TransientAwsError, a name the run state machine's Retry matches; any other error
 * is left as it is, so a bad request still fails the execution at once.
 */
export function transientAwsErrors(): MiddlewareObj {
  return {
    onError: async (request) => {
      if (classifyFailure(request.error).transient && !(request.error instanceof TransientAwsError)) {
        request.error = new TransientAwsError(request.error as Error);
      }
    },
  };
}
