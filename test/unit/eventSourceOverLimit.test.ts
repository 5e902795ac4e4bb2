import {
  DeleteMessageBatchCommand,
  type Message,
  OverLimit,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { Log } from '../../lib/log.ts';
import { type EventSourceMapping, SqsEventSource } from '../../local/eventSource.ts';

/**
 * The embedded stack's queues answer OverLimit only to short polls, and the event source
 * long-polls (as Lambda's does), so the stack cannot make it see the error: a stub queue
 * injects it here.
 */
function queueRefusingFirst(refusals: number) {
  const message: Message = { MessageId: 'm1', ReceiptHandle: 'r1', Body: '{}' };
  const deleted: string[] = [];
  let delivered = false;
  const sqs = {
    async send(command: unknown) {
      if (command instanceof ReceiveMessageCommand) {
        if (refusals-- > 0)
          throw new OverLimit({ message: 'in flight limit', $metadata: { httpStatusCode: 403 } });
        if (!delivered) {
          delivered = true;
          return { Messages: [message] };
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        return {};
      }
      if (command instanceof DeleteMessageBatchCommand) {
        const entries = command.input.Entries ?? [];
        deleted.push(...entries.map((e) => String(e.ReceiptHandle)));
        return { Successful: entries.map((e) => ({ Id: e.Id })) };
      }
      return {};
    },
  } as unknown as SQSClient;
  return { sqs, deleted };
}

describe('the embedded SQS event source, refused with OverLimit', () => {
  it('backs off and receives again: no error logged, no failed invocation, the message delivered and deleted', async () => {
    const { sqs, deleted } = queueRefusingFirst(1);
    const errors: string[] = [];
    const log: Log = { debug() {}, info() {}, warn: (m) => errors.push(m), error: (m) => errors.push(m) };
    const handled: string[] = [];
    const mapping: EventSourceMapping = {
      functionName: 'worker',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:worker',
      timeoutSeconds: 30,
      memorySize: 128,
      queueUrl: 'http://127.0.0.1/000000000000/steps',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:steps',
      batchSize: 10,
      maximumConcurrency: 1,
      reportBatchItemFailures: true,
      recursiveLoop: 'Allow',
      handler: async (event) => {
        handled.push(...event.Records.map((r) => r.messageId));
        return { batchItemFailures: [] };
      },
    };
    const source = new SqsEventSource(sqs, [mapping], log);
    source.start();
    try {
      for (let i = 0; i < 100 && deleted.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await source.stop();
    }
    expect(handled).toEqual(['m1']);
    expect(deleted).toEqual(['r1']);
    expect(source.stats()).toMatchObject({ overLimitReceives: 1, failedInvocations: 0, invocations: 1 });
    expect(errors).toEqual([]);
  }, 30_000);
});
