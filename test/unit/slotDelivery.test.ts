import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { defineJob } from '../../lib/job/defineJob.ts';
import { SlotGate } from '../../lib/limits/slotGate.ts';
import type { StepMessage } from '../../lib/step/messages.ts';
import { runHoldingSlot } from '../../lib/step/slotDelivery.ts';
import { engineDeps } from '../support/engine.ts';

const limited = defineJob('limited', (job) =>
  job.step('call', { concurrency: { key: 'api', limit: 1 } }, () => 1),
);
const message: StepMessage = { v: 1, runId: 'r1', job: 'limited', step: 'call', attempt: 1, input: {} };
const record = {
  messageAttributes: {},
  attributes: { SentTimestamp: String(Date.now()) },
} as unknown as SQSRecord;

/** Two deliveries of one attempt (a duplicate, or a redelivery while the first still runs). */
function twoCopies() {
  const deps = engineDeps([limited]);
  const slots = { gate: new SlotGate(deps.slots, deps.log), planOf: () => limited.plan({}) };
  const deliver = <T>(attempt: () => Promise<T>) =>
    runHoldingSlot(deps, slots, record, message, undefined, attempt);
  const held = async () => (await deps.slots.readSlots('api')).leases.map((lease) => lease.holder);
  return { deliver, held };
}

describe('a copy of an attempt that another worker is running', () => {
  it('leaves the running copy’s slot held when it finds the attempt in progress', async () => {
    const { deliver, held } = twoCopies();
    let finishFirst = () => {};
    const first = deliver(() => new Promise<string>((resolve) => (finishFirst = () => resolve('done'))));
    await expect.poll(held).toEqual(['r1#call#1']);
    // The copy shares the first's lease, and its attempt finds the first still running.
    await expect(
      deliver(() => Promise.reject(new IdempotencyAlreadyInProgressError('in progress'))),
    ).rejects.toBeInstanceOf(IdempotencyAlreadyInProgressError);
    expect(await held()).toEqual(['r1#call#1']);
    finishFirst();
    expect(await first).toBe('done');
    expect(await held()).toEqual([]);
  });

  it('gives the slot back when the copy itself ran the attempt (its first holder died)', async () => {
    const { deliver, held } = twoCopies();
    // The first holder took the slot and died without giving it back.
    const dead = deliver(() => new Promise<never>(() => {}));
    await expect.poll(held).toEqual(['r1#call#1']);
    expect(await deliver(async () => 'ran here')).toBe('ran here');
    expect(await held()).toEqual([]);
    void dead;
  });
});
