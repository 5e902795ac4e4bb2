import { describe, expect, it } from 'vitest';
import { SqsInFlightLimits } from '../../local/limits/sqsInFlightLimits.ts';

const QUEUE = 'http://127.0.0.1/000000000000/steps';
const RECEIVE = 'AmazonSQS.ReceiveMessage';

function limits(messagesPerQueue: number, visibilitySeconds = 30) {
  let now = 0;
  const limiter = new SqsInFlightLimits({
    messagesPerQueue,
    visibilityTimeoutOf: async () => visibilitySeconds,
    now: () => now,
  });
  return { limiter, advance: (ms: number) => (now += ms) };
}

/** A receive of up to `max` that the queue answers with as many handles as it was allowed. */
async function receive(limiter: SqsInFlightLimits, max: number, handles: string[], wait = 0) {
  const admission = await limiter.receive({
    QueueUrl: QUEUE,
    MaxNumberOfMessages: max,
    WaitTimeSeconds: wait,
  });
  if (admission.kind !== 'pass') return admission;
  const asked = Number(admission.body.MaxNumberOfMessages);
  admission.settle(handles.slice(0, asked));
  return { kind: 'pass' as const, asked };
}

describe('SqsInFlightLimits', () => {
  it('admits receives up to the limit, asking for no more than the room left, then refuses a short poll', async () => {
    const { limiter } = limits(15);
    expect(await receive(limiter, 10, ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'a10'])).toEqual(
      {
        kind: 'pass',
        asked: 10,
      },
    );
    expect(await receive(limiter, 10, ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'])).toEqual({
      kind: 'pass',
      asked: 5,
    });
    expect(limiter.inFlight(QUEUE)).toBe(15);
    expect(await receive(limiter, 10, [])).toMatchObject({
      kind: 'overLimit',
      message: expect.stringMatching(/limit of 15 per queue/),
    });
    expect(limiter.refused()).toEqual([
      { queueUrl: QUEUE, overLimit: 1, heldLongPolls: 0, peakInFlight: 15 },
    ]);
  });

  it('counts a receive in progress against the room, and frees what it did not get', async () => {
    const { limiter } = limits(10);
    const first = await limiter.receive({ QueueUrl: QUEUE, MaxNumberOfMessages: 10 });
    // Reserved until answered: a concurrent receive finds no room.
    expect((await limiter.receive({ QueueUrl: QUEUE, MaxNumberOfMessages: 1 })).kind).toBe('overLimit');
    if (first.kind !== 'pass') throw new Error('expected the first receive to pass');
    first.settle(['a1', 'a2']);
    first.settle(['again']); // settled once only
    expect(limiter.inFlight(QUEUE)).toBe(2);
    expect(await receive(limiter, 10, ['c1'])).toEqual({ kind: 'pass', asked: 8 });
  });

  it('frees room on delete, on visibility changed to 0, on purge, and when the visibility timeout passes', async () => {
    const { limiter, advance } = limits(4, 30);
    await receive(limiter, 4, ['a', 'b', 'c', 'd']);
    limiter.observe('AmazonSQS.DeleteMessage', { QueueUrl: QUEUE, ReceiptHandle: 'a' });
    limiter.observe('AmazonSQS.DeleteMessageBatch', {
      QueueUrl: QUEUE,
      Entries: [{ Id: '0', ReceiptHandle: 'b' }],
    });
    limiter.observe('AmazonSQS.ChangeMessageVisibility', {
      QueueUrl: QUEUE,
      ReceiptHandle: 'c',
      VisibilityTimeout: 0,
    });
    expect(limiter.inFlight(QUEUE)).toBe(1);
    // 'd' extended to 60 s: still in flight after the queue's 30.
    limiter.observe('AmazonSQS.ChangeMessageVisibilityBatch', {
      QueueUrl: QUEUE,
      Entries: [{ Id: '0', ReceiptHandle: 'd', VisibilityTimeout: 60 }],
    });
    advance(30_000);
    expect(limiter.inFlight(QUEUE)).toBe(1);
    advance(30_000);
    expect(limiter.inFlight(QUEUE)).toBe(0);
    await receive(limiter, 4, ['e', 'f']);
    limiter.observe('AmazonSQS.PurgeQueue', { QueueUrl: QUEUE });
    expect(limiter.inFlight(QUEUE)).toBe(0);
  });

  it('holds a long poll at the limit and answers it with no messages and no error when its wait ends', async () => {
    // A clock that moves 250 ms each time it is read: the hold looks a few times, then its wait ends.
    let now = 0;
    const limiter = new SqsInFlightLimits({
      messagesPerQueue: 1,
      visibilityTimeoutOf: async () => 3_600,
      now: () => (now += 250),
    });
    await receive(limiter, 1, ['a']);
    expect(await limiter.receive({ QueueUrl: QUEUE, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 })).toEqual({
      kind: 'empty',
    });
    expect(limiter.refused()).toMatchObject([{ overLimit: 0, heldLongPolls: 1 }]);
  });

  it('lets a held long poll through once a delete makes room', async () => {
    const { limiter } = limits(1);
    await receive(limiter, 1, ['a']);
    const held = limiter.receive({ QueueUrl: QUEUE, MaxNumberOfMessages: 10, WaitTimeSeconds: 20 });
    limiter.observe('AmazonSQS.DeleteMessage', { QueueUrl: QUEUE, ReceiptHandle: 'a' });
    expect(await held).toMatchObject({ kind: 'pass', body: { MaxNumberOfMessages: 1 } });
  });

  it('answers at the gateway as SQS does: OverLimit, HTTP 403, a sender fault', async () => {
    const { limiter } = limits(1);
    const request = (max: number) =>
      Buffer.from(JSON.stringify({ QueueUrl: QUEUE, MaxNumberOfMessages: max }));
    const first = await limiter.admit(RECEIVE, request(10));
    expect(first.kind).toBe('forward');
    if (first.kind !== 'forward') return;
    expect(JSON.parse(first.body.toString())).toMatchObject({ MaxNumberOfMessages: 1 });
    first.settle?.(200, Buffer.from(JSON.stringify({ Messages: [{ ReceiptHandle: 'a', Body: '{}' }] })));
    expect(await limiter.admit(RECEIVE, request(1))).toEqual({
      kind: 'answer',
      status: 403,
      body: { __type: 'com.amazonaws.sqs#OverLimit', message: expect.any(String) },
      headers: { 'x-amzn-query-error': 'OverLimit;Sender' },
    });
    // Sends are never refused: only the requests that change the count are read.
    expect(SqsInFlightLimits.follows('AmazonSQS.SendMessage')).toBe(false);
    expect(SqsInFlightLimits.follows('AmazonSQS.DeleteMessageBatch')).toBe(true);
  });

  it('does not count a queue that cannot say its visibility timeout (no such queue): the queue answers', async () => {
    const limiter = new SqsInFlightLimits({
      messagesPerQueue: 1,
      visibilityTimeoutOf: async () => {
        throw new Error('QueueDoesNotExist');
      },
    });
    const admission = await limiter.receive({ QueueUrl: QUEUE, MaxNumberOfMessages: 10 });
    expect(admission).toMatchObject({ kind: 'pass', body: { MaxNumberOfMessages: 10 } });
    expect(limiter.inFlight(QUEUE)).toBe(0);
  });
});
