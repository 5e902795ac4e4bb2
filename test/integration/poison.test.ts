import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import { runToEnd, useStack } from '../support/stack.ts';

const handle = useStack();
const inspector = () => new QueueInspector(handle.deps.aws.sqs, handle.deps.config.queues);

async function dlqDepth(queue: string): Promise<number> {
  const stats = await inspector().stats();
  return stats.find((q) => q.name === queue)?.dlq?.visible ?? -1;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const POISON = [
  'this is not JSON',
  JSON.stringify({ hello: 'world' }),
  JSON.stringify({
    v: 1,
    runId: '01NOSUCHRUN000000000000000',
    job: 'diamond',
    step: 'a',
    attempt: 1,
    input: { x: 1 },
  }),
];

describe('poison messages', () => {
  it('go to the DLQ after maxReceiveCount, are listed there, and nothing else is disturbed', async () => {
    const queue = handle.deps.config.queues.default as string;
    for (const body of POISON)
      await handle.deps.aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: body }));

    // A good run on the same queue meanwhile.
    const run = await runToEnd(handle, 'diamond', { x: 1 });
    expect(run.status).toBe('SUCCEEDED');

    await until(async () => (await dlqDepth('default')) === POISON.length, 'the poison messages in the DLQ');
    const [defaultQueue] = (await inspector().stats()).filter((q) => q.name === 'default');
    expect(defaultQueue).toMatchObject({ visible: 0, maxReceiveCount: 5, dlq: { visible: 3 } });

    const letters = await inspector().peekDeadLetters('default');
    expect(letters.map((l) => l.describe).sort()).toEqual([
      'JSON that is not a step message',
      'not JSON',
      'run 01NOSUCHRUN000000000000000 step a attempt 1',
    ]);
    for (const letter of letters) expect(letter.receiveCount).toBeGreaterThanOrEqual(5);
    // Peeking leaves them where they are.
    expect(await dlqDepth('default')).toBe(3);
  });

  it('redrive moves dead letters back to their queue (where these poison again)', async () => {
    const result = await inspector().redrive('default');
    expect(result).toEqual({ moved: 3, queue: 'default' });
    // They are still poison: back through their receives into the DLQ.
    await until(async () => (await dlqDepth('default')) === 3, 'the redriven messages back in the DLQ');
  });

  it('names an unknown queue', async () => {
    await expect(inspector().redrive('nope')).rejects.toThrow(
      "unknown step queue 'nope'; known: default, high",
    );
  });
});
