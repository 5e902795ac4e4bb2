import {
  CreateQueueCommand,
  DeleteMessageCommand,
  OverLimit,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { fanOutSucceeds } from '../support/fanOut.ts';
import { runToEnd, until, useStack } from '../support/stack.ts';

const N = 200;

// AWS's 120,000 in-flight messages per queue divided by 4,000: 30, under the 8 x 10 the event
// source would take at once. The other limits would stall a run at this scale: off.
describe("SQS's in-flight limit, scaled down", () => {
  const handle = useStack({
    limits: { scale: 4_000, partitionWrites: false, eventSourceRamp: false },
    concurrency: 8,
  });

  it('a fan-out with more messages than the limit in flight still succeeds: receives are refused, no message is lost', async () => {
    const limits = handle.stack.sqsInFlightLimits;
    expect(limits?.limit).toBe(30);
    await fanOutSucceeds(handle, N);
    const stepsQueue = handle.deps.config.queues.default as string;
    // The event source long-polls: the queue held its receives at the limit, with no error.
    const refused = limits?.refused().find((r) => r.queueUrl === stepsQueue);
    expect(refused).toMatchObject({ overLimit: 0, peakInFlight: 30 });
    expect(refused?.heldLongPolls).toBeGreaterThan(0);
    for (const peak of limits?.peaks().values() ?? []) expect(peak).toBeLessThanOrEqual(30);
    expect(handle.stack.eventSource.stats()).toMatchObject({ failedInvocations: 0, overLimitReceives: 0 });
  }, 180_000);

  it('a short poll at the limit gets OverLimit (HTTP 403), a long poll gets nothing, and a delete makes room', async () => {
    const sqs = handle.deps.aws.sqs;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'in-flight-probe' }));
    for (let batch = 0; batch < 4; batch++) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `m${batch}-${i}` })),
        }),
      );
    }
    const received = [];
    for (let i = 0; i < 3; i++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
      );
      received.push(...Messages);
    }
    expect(received).toHaveLength(30);
    const refused = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 })).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(OverLimit);
    expect(refused).toMatchObject({ name: 'OverLimit', $metadata: { httpStatusCode: 403 } });
    const longPoll = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(longPoll.Messages).toBeUndefined();
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: received[0]?.ReceiptHandle }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
    );
    expect(Messages).toHaveLength(1);
  }, 60_000);
});

// Scale 10: the event source starts 1 batch at once (AWS: 5) and adds 30 a minute (AWS: 300),
// one more every 2 s, up to the stage's 8.
describe("the SQS event source's scaling ramp, scaled down", () => {
  const handle = useStack({
    limits: { scale: 10, partitionWrites: false, sqsInFlight: false },
    concurrency: 8,
  });

  it('starts at one concurrent batch and rises a step at a time to the maximum, never running more than it reached', async () => {
    // 80 steps of 1 s: the run outlasts the ramp's first levels however fast the machine is,
    // so the levels it reaches have work for more than one batch.
    const run = await runToEnd(handle, 'paced-fanout', { n: 80, ms: 1_000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    const stepsQueue = handle.deps.config.queues.default as string;
    const steps = () =>
      handle.stack.eventSource
        .concurrency()
        .find((m) => stepsQueue.endsWith(m.queueArn.split(':').at(-1) ?? '-'));
    // The ramp goes on after the run (Lambda does not scale down here): wait for the top.
    const levels = await until(
      'the steps mapping to reach its maximum concurrency',
      async () => {
        const mapping = steps();
        return mapping?.levels.at(-1)?.pollers === 8 ? mapping.levels : undefined;
      },
      60_000,
    );
    expect(levels.map((l) => l.pollers)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const [i, level] of levels.entries()) {
      expect(level.busiest).toBeLessThanOrEqual(level.pollers);
      if (i > 0) expect(level.atMs).toBeGreaterThanOrEqual(levels[i - 1]?.atMs ?? 0);
    }
    // The run used the ramp as it rose: more than one batch at once at some level.
    expect(Math.max(...levels.map((l) => l.busiest))).toBeGreaterThan(1);
  }, 180_000);
});
