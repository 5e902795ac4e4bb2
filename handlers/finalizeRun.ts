import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Deps } from '../lib/deps.ts';
import { finalizeRun } from '../lib/run/finalize.ts';
import { lazyDeps, logRequestMetrics, transientAwsErrors } from './shared.ts';

/** Task `FinalizeRun` of the run state machine. */
export function createHandler(getDeps: () => Deps) {
  return middy(async (event: unknown, _context: Context) => finalizeRun(getDeps(), event))
    .use(transientAwsErrors())
    .use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
