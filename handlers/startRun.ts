import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { readPollSettings } from '../lib/aws/config.ts';
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
    const deps = getDeps();
    // A queued run's asks count towards the same history budget as PollRun's ticks.
    const { maxTicks } = readPollSettings(deps.env);
    return startRun(deps, event.request, event.executionArn, {
      maxTicks,
      ...(deadline === undefined ? {} : { deadline }),
    });
  })
    .use(transientAwsErrors())
    .use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
