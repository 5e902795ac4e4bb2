import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { CircuitBreaker } from '../lib/aws/circuitBreaker.ts';
import type { Deps } from '../lib/deps.ts';
import { SlotGate } from '../lib/limits/slotGate.ts';
import { RunStatusCache } from '../lib/run/runStatusCache.ts';
import { AttemptEffects } from '../lib/step/attemptEffects.ts';
import { createIdempotentAttempt } from '../lib/step/idempotentAttempt.ts';
import type { StepMessage } from '../lib/step/messages.ts';
import { type RunnerHooks, StepRunner } from '../lib/step/runner.ts';
import { deliverStepRecord, flushAttempts } from '../lib/step/stepDelivery.ts';
import { deadlineOf, lazyDeps, logRequestMetrics } from './shared.ts';

// Where test/unit/transient.test.ts has always found it.
export { inProgressRetrySeconds } from '../lib/step/redelivery.ts';

/**
 * The step worker: an SQS event source with ReportBatchItemFailures. Each record is one
 * step attempt run through the idempotent runner (lib/step/stepDelivery.ts); a record that fails
 * (in progress elsewhere, an infrastructure error, a poison message) is reported as a batch
 * item failure and redelivered as lib/step/redelivery.ts decides, and after maxReceiveCount
 * lands in the DLQ. What the invocation's attempts write besides their step items is
 * gathered in one AttemptEffects and written before the invocation returns.
 */
export function createHandler(
  getDeps: () => Deps,
  hooks: RunnerHooks = {},
  breaker: CircuitBreaker = new CircuitBreaker(),
) {
  // Run statuses the worker saw lately, from its reads and its counter writes: shared by
  // the runner (which reads them) and each invocation's effects (whose writes return them).
  const statuses = new RunStatusCache();
  let runner: StepRunner | undefined;
  return middy(async (event: SQSEvent, context: Context) => {
    const deps = getDeps();
    runner ??= new StepRunner(deps, hooks, statuses);
    const stepRunner = runner;
    const effects = new AttemptEffects(deps, { batched: true, statuses });
    const attempt = createIdempotentAttempt(deps, stepRunner, effects);
    attempt.registerLambdaContext(context);
    const delivery = {
      deps,
      attempt,
      slots: {
        gate: new SlotGate(deps.slots, deps.log),
        planOf: (message: StepMessage) => stepRunner.planFor(message),
      },
      breaker,
      deadline: deadlineOf(context),
      remainingMs: () => context.getRemainingTimeInMillis(),
    };
    // One processor per invocation: it keeps the batch's successes and failures, and the
    // embedded stack runs concurrent invocations in one process (Lambda never does), where
    // a shared processor reports one batch's failures in another's response. A batch whose
    // every record failed is reported record by record too (same redelivery), not thrown.
    try {
      return await processPartialResponse(
        event,
        (record: SQSRecord) => deliverStepRecord(delivery, record),
        new BatchProcessor(EventType.SQS),
        { context, throwOnFullBatchFailure: false },
      );
    } finally {
      await flushAttempts(deps, effects, event.Records);
    }
  }).use(logRequestMetrics());
}

export const handler = createHandler(lazyDeps());
