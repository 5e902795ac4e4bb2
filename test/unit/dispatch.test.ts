import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../lib/job/defineJob.ts';
import { Dispatcher } from '../../lib/step/dispatch.ts';
import { MemoryPayloadStore, TEST_CONFIG } from '../support/engine.ts';

/** An SQS client that answers every SendMessageBatch a tick later, and counts them in flight. */
function countingSqs() {
  const seen = { sent: 0, inFlight: 0, maxInFlight: 0 };
  const sqs = {
    async send(command: SendMessageBatchCommand) {
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      seen.inFlight--;
      const entries = command.input.Entries ?? [];
      seen.sent += entries.length;
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] };
    },
  };
  return { sqs: sqs as unknown as SQSClient, seen };
}

describe('Dispatcher', () => {
  it('sends a wide release in batches of 10, at most 16 requests at a time', async () => {
    const n = 1_000;
    const wide = defineJob('wide', (job) => {
      for (let i = 0; i < n; i++) job.step(`s${i}`, () => i);
    });
    const plan = wide.plan({});
    const { sqs, seen } = countingSqs();
    const dispatcher = new Dispatcher(sqs, TEST_CONFIG, new MemoryPayloadStore());

    await dispatcher.dispatch(
      { runId: 'r1', job: 'wide', input: {} },
      plan,
      plan.order.map((step) => ({ step, attempt: 1 })),
    );

    expect(seen.sent).toBe(n);
    expect(seen.maxInFlight).toBe(16);
  });
});
