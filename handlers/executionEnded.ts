import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { readExecutionEndSettings } from '../lib/aws/config.ts';
import type { Deps } from '../lib/deps.ts';
import { endRunOfEndedExecution } from '../lib/run/executionEnded.ts';
import { deadlineOf, lazyDeps, logRequestMetrics, transientAwsErrors } from './shared.ts';

/**
 * Target of the RunExecutionEndedRule (EventBridge): a run execution that ended without
 * FinalizeRun (stopped, timed out, failed) ends its run (lib/run/executionEnded.ts).
 */
export function createHandler(getDeps: () => Deps) {
  return middy(async (event: unknown, context: Context) => {
    const deadline = deadlineOf(context);
    const deps = getDeps();
    return endRunOfEndedExecution(deps, event, {
      ...readExecutionEndSettings(deps.env),
      ...(deadline === undefined ? {} : { deadline }),
    });
  })
    .use(transientAwsErrors())
    .use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
