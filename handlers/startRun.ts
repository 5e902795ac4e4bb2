import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Deps } from '../lib/deps.ts';
import { startRun } from '../lib/run/start.ts';
import { deadlineOf, lazyDeps, logRequestMetrics, transientAwsErrors } from './shared.ts';

interface StartRunEvent {
  readonly request: unknown;
  readonly executionArn?: string;
}

/** Task `StartRun` of the run state machine. */
export function createHandler(getDeps: () => Deps) {
  return middy(async (event: StartRunEvent, context: Context) => {
    const deadline = deadlineOf(context);
    return startRun(getDeps(), event.request, event.executionArn, deadline === undefined ? {} : { deadline });
  })
    .use(transientAwsErrors())
    .use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
