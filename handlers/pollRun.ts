import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { readPollSettings } from '../lib/aws/config.ts';
import type { Deps } from '../lib/deps.ts';
import { pollRun } from '../lib/run/poll.ts';
import { lazyDeps, logRequestMetrics, transientAwsErrors } from './shared.ts';

/** Task `PollRun` of the run state machine. */
export function createHandler(getDeps: () => Deps) {
  return middy(async (event: unknown, context: Context) => {
    const deps = getDeps();
    return pollRun(deps, event, readPollSettings(deps.env), {
      deadline: Date.now() + context.getRemainingTimeInMillis(),
    });
  })
    .use(transientAwsErrors())
    .use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
