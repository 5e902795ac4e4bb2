import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Deps } from '../lib/deps.ts';
import { createIdempotentAttempt, type IdempotentAttempt } from '../lib/idempotentAttempt.ts';
import { decodeStepMessage } from '../lib/messages.ts';
import { type RunnerHooks, StepRunner } from '../lib/runner.ts';
import { deadlineOf, lazyDeps } from './shared.ts';

/**
 * The step worker: an SQS event source with ReportBatchItemFailures. Each record is
 * one step attempt run through the idempotent runner; a record that fails (in
 * progress elsewhere, an infrastructure error, a poison message) is reported as a
 * batch item failure and redelivered by SQS, and after maxReceiveCount lands in the DLQ.
 */
export function createHandler(getDeps: () => Deps, hooks: RunnerHooks = {}) {
  const processor = new BatchProcessor(EventType.SQS);
  let attempt: IdempotentAttempt | undefined;
  return middy(async (event: SQSEvent, context: Context) => {
    const deps = getDeps();
    attempt ??= createIdempotentAttempt(deps, new StepRunner(deps, hooks));
    const runAttempt = attempt;
    runAttempt.registerLambdaContext(context);
    const deadline = deadlineOf(context);
    const recordHandler = async (record: SQSRecord) => {
      const message = await decodeStepMessage(record.body, deps.payloads);
      try {
        return await runAttempt.run(message, deadline === undefined ? {} : { deadline });
      } catch (error) {
        if (error instanceof IdempotencyAlreadyInProgressError) await retrySoon(deps, record);
        else
          deps.log.error('step attempt failed to process', {
            runId: message.runId,
            step: message.step,
            error,
          });
        throw error;
      }
    };
    // A batch whose every record failed is reported record by record too (same redelivery), not thrown.
    return processPartialResponse(event, recordHandler, processor, {
      context,
      throwOnFullBatchFailure: false,
    });
  });
}

/**
 * Another delivery of this attempt is running. Bring this one back after a short,
 * growing delay instead of the queue's whole visibility timeout.
 */
async function retrySoon(deps: Deps, record: SQSRecord): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url) return;
  const received = Number(record.attributes.ApproximateReceiveCount ?? 1);
  const seconds = Math.min(60, 2 ** Math.min(received, 6));
  await deps.aws.sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: url,
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: seconds,
    }),
  );
}

function queueUrlOf(deps: Deps, arn: string): string | undefined {
  const name = arn.split(':').at(-1);
  return Object.values(deps.config.queues).find((url) => url.endsWith(`/${name}`));
}

export const handler = createHandler(lazyDeps());
