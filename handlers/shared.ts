import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { createDeps, type Deps } from '../lib/deps.ts';
import { TransientAwsError } from '../lib/errors.ts';
import { isTransientAwsError } from '../lib/transient.ts';
import { registry } from './registry.ts';

/**
 * Deps are built once per Lambda container, on first use (not at import), so the
 * environment in force at the first invocation is the one used.
 */
export function lazyDeps(): () => Deps {
  let deps: Deps | undefined;
  return () => {
    deps ??= createDeps(registry);
    return deps;
  };
}

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
      if (isTransientAwsError(request.error)) request.error = new TransientAwsError(request.error as Error);
    },
  };
}
