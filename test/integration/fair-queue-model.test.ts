import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startFauxqs } from '../../local/emulators.ts';
import type { FairQueues } from '../../local/fairQueues.ts';

/** A queue on a fresh fauxqs, fair or not, and what it serves. */
function useQueue(fair: boolean) {
  const at = {} as {
    emulator: RunningEmulator & { fairQueues?: FairQueues };
    sqs: SQSClient;
    url: string;
  };
  beforeAll(async () => {
    at.emulator = await startFauxqs({ fairQueues: fair });
    at.sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: at.emulator.endpoint,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    at.url = (await at.sqs.send(new CreateQueueCommand({ QueueName: 'tenants' }))).QueueUrl ?? '';
  });
  afterAll(async () => {
    at.sqs?.destroy();
    await at.emulator?.stop();
  });
  const send = async (bodies: string[], group?: string) => {
    for (let i = 0; i < bodies.length; i += 10) {
      await at.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: at.url,
          Entries: bodies.slice(i, i + 10).map((body, j) => ({
            Id: String(j),
            MessageBody: body,
            ...(group ? { MessageGroupId: group } : {}),
          })),
        }),
      );
    }
  };
  const receive = async () => {
    const { Messages = [] } = await at.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: at.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    return Messages;
  };
  return { at, send, receive };
}

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('a standard queue on the embedded stack, served as a fair queue', () => {
  const { at, send, receive } = useQueue(true);

  it("serves the tenant with the fewest messages in flight first, so a backlog does not hold back a small tenant's messages", async () => {
    await send(range('a', 30), 'big');
    await send(range('b', 2), 'small');
    await at.sqs.send(new SendMessageCommand({ QueueUrl: at.url, MessageBody: 'loner' }));

    const first = await receive();
    // Ties (nothing in flight) go to the older message; each pick counts as in flight.
    expect(first.map((m) => m.Body)).toEqual(['a0', 'b0', 'loner', 'a1', 'b1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    expect(first.map((m) => m.Attributes?.MessageGroupId)).toEqual([
      'big',
      'small',
      undefined,
      'big',
      'small',
      'big',
      'big',
      'big',
      'big',
      'big',
    ]);

    // 'big' has 7 in flight: a message of a quiet tenant sent now goes out with the next receive.
    await send(['c0'], 'quiet');
    expect((await receive()).map((m) => m.Body)).toEqual([
      'c0',
      'a7',
      'a8',
      'a9',
      'a10',
      'a11',
      'a12',
      'a13',
      'a14',
      'a15',
    ]);
    expect(at.emulator.fairQueues?.sends(at.url)).toEqual({ grouped: 33, ungrouped: 1 });
  });
});

describe('the same queue served in arrival order (fair queues off)', () => {
  const { at, send, receive } = useQueue(false);

  it("serves the backlog first: the small tenant's messages wait behind it", async () => {
    await send(range('a', 30), 'big');
    await send(range('b', 2), 'small');
    expect((await receive()).map((m) => m.Body)).toEqual(range('a', 10));
    expect(at.emulator.fairQueues).toBeUndefined();
  });
});
