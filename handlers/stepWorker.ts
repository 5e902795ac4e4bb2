import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Deps } from '../lib/deps.ts';
import { InvalidMessageError } from '../lib/errors.ts';
import { createIdempotentAttempt, type IdempotentAttempt } from '../lib/idempotentAttempt.ts';
import { decodeStepMessage, type StepMessage } from '../lib/messages.ts';
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
      let message: StepMessage | undefined;
      try {
        message = await decodeStepMessage(record.body, deps.payloads);
        return await runAttempt.run(message, deadline === undefined ? {} : { deadline });
      } catch (error) {
        if (error instanceof IdempotencyAlreadyInProgressError) {
          await setVisibility(deps, record, Math.min(60, 2 ** Math.min(receiveCount(record), 6)));
        } else if (error instanceof InvalidMessageError) {
          // A poison message never gets better: hurry it through its receives to the DLQ.
          deps.log.warn('poison step message; on its way to the DLQ', {
            messageId: record.messageId,
            receiveCount: receiveCount(record),
            reason: error.message,
          });
          await setVisibility(deps, record, 0);
        } else {
          deps.log.error('step attempt failed to process', {
            runId: message?.runId,
            step: message?.step,
            error,
          });
        }
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

const receiveCount = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount ?? 1);

/**
 * Bring a failed record back sooner than the queue's whole visibility timeout: after a
 * short, growing delay when another delivery of the attempt is running, at once for poison.
 */
async function setVisibility(deps: Deps, record: SQSRecord, seconds: number): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url) return;
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
