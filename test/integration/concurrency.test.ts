import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it, vi } from 'vitest';
import { ConcurrencyInspector } from '../../lib/client/concurrencyInspector.ts';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import { EventType } from '../../lib/eventTypes.ts';
import type { SlotLease } from '../../lib/store/slotStore.ts';
import type { RunEvent } from '../../lib/store/types.ts';
import { attemptSpans, heldLeases, peakRunning } from '../../local/simulation/keyedLimits.ts';
import { eventsOf, until, useStack } from '../support/stack.ts';
import { slotStoreContract } from '../unit/store/slotStoreContract.ts';

class WorkerKilled extends Error {
  override readonly name = 'WorkerKilled';
}

/** The attempt (`runId#step#attempt`) whose first delivery is "killed" mid-attempt (test: a killed holder). */
const toKill: { holder?: string; killed: boolean } = { killed: false };

const handle = useStack({
  hooks: {
    beforeRecord(message) {
      if (toKill.killed || toKill.holder !== `${message.runId}#${message.step}#${message.attempt}`) return;
      toKill.killed = true;
      throw new WorkerKilled(`the worker running ${message.step} was killed`);
    },
  },
});

const newKey = () => `test-${randomUUID()}`;

/** Start runs of keyed-limit at once and wait for them all. */
async function runAll(inputs: readonly object[]) {
  const started = await Promise.all(
    inputs.map((input) => handle.client.startRun({ job: 'keyed-limit', input })),
  );
  return Promise.all(started.map(({ runId }) => handle.client.waitForRun(runId)));
}

async function eventsOfRuns(runIds: readonly string[]): Promise<Map<string, RunEvent[]>> {
  return new Map(
    await Promise.all(runIds.map(async (runId) => [runId, await eventsOf(handle, runId)] as const)),
  );
}

const peakOf = (events: Map<string, RunEvent[]>) =>
  peakRunning([...events].flatMap(([runId, runEvents]) => attemptSpans(runId, runEvents)));

describe('the DynamoDB slot store (on the emulator), by the contract every SlotStore keeps', () => {
  slotStoreContract(() => handle.deps.slots);
});

describe('a keyed concurrency limit across runs', () => {
  it('never lets more than 3 attempts with the key run at once over 5 runs of 20 steps, and spends no retry waiting', async () => {
    const key = newKey();
    const runs = await runAll(Array.from({ length: 5 }, () => ({ key, limit: 3, steps: 20, ms: 100 })));
    expect(runs.map((run) => run.status)).toEqual(Array(5).fill('SUCCEEDED'));

    const events = await eventsOfRuns(runs.map((run) => run.runId));
    const all = [...events.values()].flat();
    const spans = [...events].flatMap(([runId, runEvents]) => attemptSpans(runId, runEvents));
    // Every step ran once, as attempt 1: waiting is neither a retry nor a failure.
    expect(spans).toHaveLength(100);
    expect(new Set(spans.map((span) => span.attempt))).toEqual(new Set([1]));
    expect(all.filter((e) => e.type === EventType.STEP_RETRY || e.type === EventType.STEP_FAILURE)).toEqual(
      [],
    );
    // The limit held them back. (That all 3 slots were ever busy at one moment is timing:
    // with 100 ms bodies and hand-offs of a second or so, a loaded machine saw a peak of 2.
    // test/unit/slotGate.test.ts shows `limit` holders at once.)
    expect(peakRunning(spans)).toBeLessThanOrEqual(3);
    const waits = all.filter((e) => e.type === EventType.STEP_WAITING_FOR_SLOT);
    expect(waits.length).toBeGreaterThan(0);
    // Once per wait, not per look at the key.
    const waitsPerAttempt = new Set(waits.map((e) => `${e.runId}/${e.step}/${e.attempt}`));
    expect(waitsPerAttempt.size).toBe(waits.length);
    expect(waits[0]?.message).toMatch(
      new RegExp(`concurrency key '${key}' is taken \\(limit 3, \\d+ waiting ahead\\)`),
    );

    // Nothing held or waiting is left; the key is listed with its declared limit.
    const view = await new ConcurrencyInspector(handle.deps.slots).key(key);
    expect(view).toMatchObject({ key, limit: 3, declared: 3, holders: [], waiters: [] });
    expect(await heldLeases(handle.deps.slots, [key])).toEqual([]);
    // No message went to a DLQ while waiting.
    const queues = await new QueueInspector(handle.deps.aws.sqs, handle.deps.config.queues).stats();
    expect(queues.map((q) => q.dlq?.visible ?? 0)).toEqual(queues.map(() => 0));
  }, 240_000);

  it('takes a limit set at run time (`lambdag concurrency set`) from the next attempt, without a deploy', async () => {
    const key = newKey();
    const inspector = new ConcurrencyInspector(handle.deps.slots);
    await inspector.setLimit(key, 1);
    const runs = await runAll([{ key, limit: 3, steps: 6, ms: 200 }]);
    expect(runs[0]?.status).toBe('SUCCEEDED');
    expect(peakOf(await eventsOfRuns(runs.map((run) => run.runId)))).toBe(1);
    expect(await inspector.key(key)).toMatchObject({ key, limit: 1, declared: 3, override: 1 });
  }, 120_000);

  it('lets a killed holder’s redelivery finish on the slot its lease still holds, and runs nothing else of the key meanwhile', async () => {
    const key = newKey();
    const worker = handle.stack.functionDeps.get('stepWorker');
    if (!worker) throw new Error('the stack has no stepWorker');
    // The fault: the worker of the attempt that takes the key's slot first is killed before
    // it records its result, and never gives its slot back (a dead process runs no
    // `finally`); its lease is cut to 2 s (it is the attempt's time plus 30 s) to keep the
    // test short.
    const deadLeases: SlotLease[] = [];
    const take = worker.slots.takeSlot.bind(worker.slots);
    const takeSlot = vi.spyOn(worker.slots, 'takeSlot').mockImplementation(async (lease, now) => {
      if (lease.key !== key || deadLeases.length > 0) return take(lease, now);
      const short = { ...lease, until: now + 2_000 };
      const taken = await take(short, now);
      if (taken.ok) {
        deadLeases.push(short);
        toKill.holder = short.holder;
      }
      return taken;
    });
    const release = worker.slots.releaseSlot.bind(worker.slots);
    const releaseSlot = vi.spyOn(worker.slots, 'releaseSlot').mockImplementation(async (k, slot, holder) => {
      const dead = deadLeases[0];
      if (dead && k === dead.key && slot === dead.slot && holder === dead.holder && !killed.done) {
        killed.done = true;
        throw new WorkerKilled('the worker died holding the slot');
      }
      return release(k, slot, holder);
    });
    const killed = { done: false };
    toKill.killed = false;
    try {
      const { runId } = await handle.client.startRun({
        job: 'keyed-limit',
        input: { key, limit: 1, steps: 3, ms: 50 },
      });
      const run = await handle.client.waitForRun(runId);
      expect(run.status).toBe('SUCCEEDED');
      expect(killed.done && toKill.killed).toBe(true);

      const events = await eventsOf(handle, runId);
      const dead = deadLeases[0] as SlotLease;
      const deadStep = dead.holder.split('#')[1];
      // Its worker died (its next delivery says so).
      expect(events.some((e) => e.type === EventType.STEP_WORKER_LOST && e.step === deadStep)).toBe(true);
      // The attempt's redelivery is the lease's holder: it runs on that slot and gives it
      // back when it ends, or the lease ends first. Until then no other step of the key ran.
      const spans = attemptSpans(runId, events);
      const redeliveryDone = Math.max(
        ...spans.filter((span) => span.step === deadStep).map((span) => span.end),
      );
      const freed = Math.min(dead.until, redeliveryDone);
      const others = spans.filter((span) => span.step !== deadStep);
      expect(others.length).toBe(2);
      for (const span of others) expect(span.start).toBeGreaterThanOrEqual(freed);
      expect(await heldLeases(handle.deps.slots, [key])).toEqual([]);
    } finally {
      takeSlot.mockRestore();
      releaseSlot.mockRestore();
    }
  }, 120_000);

  it('frees the slot of a holder that died with its message gone when its lease ends', async () => {
    const key = newKey();
    const now = Date.now();
    // A dead holder nothing will redeliver (its attempt's message is gone): only its
    // lease's end gives the slot back.
    const dead: SlotLease = { key, slot: 0, holder: 'gone#s0#1', until: now + 3_000 };
    expect((await handle.deps.slots.takeSlot(dead, now)).ok).toBe(true);
    const { runId } = await handle.client.startRun({
      job: 'keyed-limit',
      input: { key, limit: 1, steps: 2, ms: 50 },
    });
    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    const events = await eventsOf(handle, runId);
    expect(events.some((e) => e.type === EventType.STEP_WAITING_FOR_SLOT)).toBe(true);
    const starts = events.filter((e) => e.type === EventType.STEP_START).map((e) => Date.parse(e.at));
    expect(starts.length).toBe(2);
    for (const start of starts) expect(start).toBeGreaterThanOrEqual(dead.until);
    expect(await heldLeases(handle.deps.slots, [key])).toEqual([]);
  }, 120_000);

  it('counts a copy of a waiting attempt’s message as the same wait, though its waiter item is out of sight', async () => {
    const key = newKey();
    const now = Date.now();
    // The key's one slot is held until released below.
    const other: SlotLease = { key, slot: 0, holder: 'other#s0#1', until: now + 120_000 };
    expect((await handle.deps.slots.takeSlot(other, now)).ok).toBe(true);
    const input = { key, limit: 1, steps: 1, ms: 10 };
    const { runId } = await handle.client.startRun({ job: 'keyed-limit', input });
    const holder = `${runId}#s0#1`;
    const waiting = await until('s0 to wait', async () =>
      (await handle.deps.slots.readWaiters(key, 10)).find((w) => w.holder === holder),
    );
    // A copy of the attempt's message (a duplicate send, a reconciliation re-send) whose
    // waiter item the gate does not see: past the head of a long line, here deleted.
    await handle.deps.slots.deleteWaiter(key, holder, waiting.since);
    await handle.deps.aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: handle.deps.config.queues.default,
        MessageBody: JSON.stringify({ v: 1, runId, job: 'keyed-limit', step: 's0', attempt: 1, input }),
        MessageGroupId: runId,
      }),
    );
    // Both copies asked and went back to the queue to wait: two delayed messages, none other.
    await until('both copies to wait', async () => {
      const { Attributes: a = {} } = await handle.deps.aws.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: handle.deps.config.queues.default,
          AttributeNames: ['All'],
        }),
      );
      const [visible, inFlight, delayed] = [
        a.ApproximateNumberOfMessages,
        a.ApproximateNumberOfMessagesNotVisible,
        a.ApproximateNumberOfMessagesDelayed,
      ].map(Number);
      return visible === 0 && inFlight === 0 && delayed === 2 ? true : undefined;
    });
    expect(await handle.deps.slots.releaseSlot(key, 0, other.holder)).toBe(true);
    expect((await handle.client.waitForRun(runId)).status).toBe('SUCCEEDED');
    const waits = (await eventsOf(handle, runId)).filter((e) => e.type === EventType.STEP_WAITING_FOR_SLOT);
    expect(waits).toHaveLength(1);
  }, 120_000);
});
