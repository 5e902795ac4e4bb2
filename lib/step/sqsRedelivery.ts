import {
  ChangeMessageVisibilityCommand,
  type MessageAttributeValue,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { Deps } from '../deps.ts';
import { ConfigError } from '../errors.ts';
import { MAX_DELAY_SECONDS, messageGroupOfMessage, type StepMessage } from './messages.ts';
import type { RecordDelivery, Redelivery } from './redelivery.ts';

/**
 * The SQS side of the worker's redelivery decisions (lib/step/redelivery.ts): a record's
 * visibility, and the copies of a message sent back to its queue (a requeue on the last
 * receive, a deferral until `notBefore`). A copy carries the delivery it continues and its
 * requeue count as message attributes, and the message group (the run's fairness key) of
 * the record it copies, so it keeps its tenant's turn on a fair queue.
 */

/** How often a message went back to its queue on its last receive (a message attribute). */
const REQUEUES_ATTRIBUTE = 'LambdagRequeues';

/** The message id of the delivery a record continues (set on the copies sendBack makes). */
const DELIVERY_ATTRIBUTE = 'LambdagDelivery';

/** When the attempt began waiting for a concurrency slot (epoch ms; set on the copies waitForSlot makes). */
const SLOT_WAIT_ATTRIBUTE = 'LambdagSlotWait';

const receiveCountOf = (record: SQSRecord) => Number(record.attributes.ApproximateReceiveCount ?? 1);

const requeuesOf = (record: SQSRecord) =>
  Number(record.messageAttributes?.[REQUEUES_ATTRIBUTE]?.stringValue ?? 0) || 0;

/** Where the record is in its receives and requeues, as the redelivery policy reads it. */
export const recordDelivery = (record: SQSRecord): RecordDelivery => ({
  receiveCount: receiveCountOf(record),
  requeues: requeuesOf(record),
});

/**
 * Which delivery this record is: its message id, or, for a copy sent back to the queue (a
 * requeue on the last receive, a deferral), the id of the message it continues. The
 * runner records it on the steps it releases, so only a later try of the same delivery
 * re-sends one of them.
 */
export const deliveryOf = (record: SQSRecord) =>
  record.messageAttributes?.[DELIVERY_ATTRIBUTE]?.stringValue ?? record.messageId;

/** When the record's attempt began waiting for a concurrency slot; undefined if it has not waited. */
export function waitingSinceOf(record: SQSRecord): number | undefined {
  const since = Number(record.messageAttributes?.[SLOT_WAIT_ATTRIBUTE]?.stringValue);
  return Number.isFinite(since) && since > 0 ? since : undefined;
}

/**
 * An attempt that found no free slot: back to its queue as a new message (the same delivery,
 * its requeues kept, and when it began to wait), so waiting spends none of the message's
 * receives towards the DLQ; the caller lets the record succeed, which deletes it.
 */
export async function waitForSlot(
  deps: Deps,
  record: SQSRecord,
  message: StepMessage,
  delaySeconds: number,
  since: number,
) {
  await sendBack(deps, record, message, delaySeconds, requeuesOf(record), {
    [SLOT_WAIT_ATTRIBUTE]: { DataType: 'Number', StringValue: String(since) },
  });
}

/**
 * Carry out a failed record's redelivery. True when the record was requeued (the caller
 * reports it done: its copy carries on); false when it is to fail, with its visibility set.
 * `message`: the record's body decoded, when it could be.
 */
export async function redeliver(
  deps: Deps,
  record: SQSRecord,
  message: StepMessage | undefined,
  decision: Redelivery,
): Promise<boolean> {
  if (decision.action === 'requeue') {
    try {
      await sendBack(deps, record, message, decision.delaySeconds, decision.requeues);
      return true;
    } catch (error) {
      deps.log.warn('could not requeue the step message; it stays on its receives', {
        messageId: record.messageId,
        error,
      });
    }
  }
  await setVisibility(deps, record, decision.visibilitySeconds);
  return false;
}

/** A message that arrived before its `notBefore`: back to the queue as the same delivery, its requeues kept. */
export async function defer(
  deps: Deps,
  record: SQSRecord,
  message: StepMessage,
  delaySeconds: number,
): Promise<void> {
  await sendBack(deps, record, message, delaySeconds, requeuesOf(record));
}

/**
 * When a failed record comes back, instead of the queue's whole visibility timeout. A
 * failure to change it is logged: the record still fails and comes back after the
 * queue's own visibility timeout.
 */
export async function setVisibility(deps: Deps, record: SQSRecord, seconds: number): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url) return;
  try {
    await deps.aws.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    deps.log.warn('could not change the visibility of a failed record', {
      messageId: record.messageId,
      error,
    });
  }
}

/**
 * The message group a copy of the record is sent with: its step message's (the run's
 * fairness key), else the group the record arrived with (a body that could not be decoded).
 */
export function messageGroupOfRecord(record: SQSRecord, message: StepMessage | undefined) {
  if (message) return messageGroupOfMessage(message);
  return record.attributes.MessageGroupId;
}

/** Send the record's body to its queue again as a new message, delayed, with its requeue count. */
async function sendBack(
  deps: Deps,
  record: SQSRecord,
  message: StepMessage | undefined,
  delaySeconds: number,
  requeues: number,
  attributes: Record<string, MessageAttributeValue> = {},
): Promise<void> {
  const url = queueUrlOf(deps, record.eventSourceARN);
  if (!url)
    throw new ConfigError('LAMBDAG_QUEUE_URL_*', `no configured step queue for ${record.eventSourceARN}`);
  const group = messageGroupOfRecord(record, message);
  await deps.aws.sqs.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: record.body,
      ...(group === undefined ? {} : { MessageGroupId: group }),
      DelaySeconds: Math.min(MAX_DELAY_SECONDS, delaySeconds),
      MessageAttributes: {
        // The copy goes on as the same delivery (see deliveryOf).
        [DELIVERY_ATTRIBUTE]: { DataType: 'String', StringValue: deliveryOf(record) },
        ...(requeues > 0
          ? { [REQUEUES_ATTRIBUTE]: { DataType: 'Number', StringValue: String(requeues) } }
          : {}),
        ...attributes,
      },
    }),
  );
}

function queueUrlOf(deps: Deps, arn: string): string | undefined {
  const name = arn.split(':').at(-1);
  return Object.values(deps.config.queues).find((url) => url.endsWith(`/${name}`));
}
