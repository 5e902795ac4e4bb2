import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Log } from '../lib/log.ts';
import { invocationsSoFar } from './lineage.ts';

/** What the event source knows of the function and queue whose chain is stopped. */
export interface StoppedChainSource {
  readonly functionName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
}

/**
 * What Lambda does with a message that would carry a recursive loop past its limit
 * (local/lineage.ts): it does not invoke the function with it, sets it aside where a failed
 * event goes (for an SQS source, the queue's dead-letter queue from its redrive policy),
 * drops it where there is none, and reports it (the RecursiveInvocationsDropped metric, a
 * Health Dashboard notice; here a warning naming the function and the queue).
 */
export class LoopBreaker {
  /** Source queue URL → its DLQ's URL (undefined: it has none). */
  private readonly deadLetterQueues = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly log: Log,
  ) {}

  async stop(source: StoppedChainSource, message: Message, fnHash: string): Promise<void> {
    const traceHeader = message.Attributes?.AWSTraceHeader;
    const deadLetterQueueUrl = await this.deadLetterQueueOf(source.queueUrl);
    this.log.warn(
      `Lambda recursive loop detection: ${source.functionName} was invoked ${invocationsSoFar(traceHeader, fnHash)} times ` +
        `in one chain through ${source.queueArn}; the next message is not delivered (RecursiveLoop is Terminate) and is ` +
        (deadLetterQueueUrl
          ? `moved to the queue's DLQ ${deadLetterQueueUrl}`
          : 'dropped (the queue has no DLQ)'),
      { function: source.functionName, queue: source.queueArn, messageId: message.MessageId, traceHeader },
    );
    if (deadLetterQueueUrl) {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes && { MessageAttributes: sendable(message.MessageAttributes) }),
          ...(traceHeader && {
            MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: traceHeader } },
          }),
        }),
      );
    }
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: source.queueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
  }

  private deadLetterQueueOf(queueUrl: string): Promise<string | undefined> {
    let found = this.deadLetterQueues.get(queueUrl);
    if (!found) {
      found = this.lookUpDeadLetterQueue(queueUrl);
      this.deadLetterQueues.set(queueUrl, found);
      // A failed look-up is tried again with the next stopped message.
      found.catch(() => this.deadLetterQueues.delete(queueUrl));
    }
    return found;
  }

  private async lookUpDeadLetterQueue(queueUrl: string): Promise<string | undefined> {
    const { Attributes: attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    if (!attributes.RedrivePolicy) return undefined;
    const { deadLetterTargetArn } = JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn?: string };
    const queueName = deadLetterTargetArn?.split(':').at(-1);
    if (!queueName) return undefined;
    const { QueueUrl } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    return QueueUrl;
  }
}

/** A received message's attributes, as SendMessage takes them. */
function sendable(attributes: Record<string, MessageAttributeValue>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType,
        ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
        ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue }),
      },
    ]),
  );
}
