import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ConcurrencyInspector } from '../../lib/client/concurrencyInspector.ts';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import { EventType } from '../../lib/eventTypes.ts';
import type { SlotLease } from '../../lib/store/slotStore.ts';
import type { RunEvent } from '../../lib/store/types.ts';
import { attemptSpans, heldLeases, peakRunning } from '../../local/simulation/keyedLimits.ts';
import { eventsOf, useStack } from '../support/stack.ts';
import { slotStoreContract } from '../unit/store/slotStoreContract.ts';

class WorkerKilled extends Error {
  override readonly name = 'WorkerKilled';
}

/** Runs whose step `s0` has its first delivery "killed" mid-attempt (test: a killed holder). */
const killFirstS0 = new Set<string>();

const handle = useStack({
  hooks: {
    beforeRecord(message) {
      if (message.job !== 'keyed-limit' || message.step !== 's0' || !killFirstS0.delete(message.runId))
        return;
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
    // The limit was what held them back, and it was used in full.
    expect(peakRunning(spans)).toBe(3);
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

  it('frees the slot of a holder killed mid-attempt when its lease ends', async () => {
    const key = newKey();
    const worker = handle.stack.functionDeps.get('stepWorker');
    if (!worker) throw new Error('the stack has no stepWorker');
    // The fault: the killed worker never gives its slot back (a dead process runs no
    // `finally`), and its lease is cut to 2 s (it is the attempt's time plus 30 s) to keep
    // the test short.
    const deadLeases: SlotLease[] = [];
    const take = worker.slots.takeSlot.bind(worker.slots);
    const takeSlot = vi.spyOn(worker.slots, 'takeSlot').mockImplementation(async (lease, now) => {
      if (lease.key !== key || deadLeases.length > 0 || !lease.holder.endsWith('#s0#1'))
        return take(lease, now);
      const short = { ...lease, until: now + 2_000 };
      const taken = await take(short, now);
      if (taken.ok) deadLeases.push(short);
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
    try {
      const { runId } = await handle.client.startRun({
        job: 'keyed-limit',
        input: { key, limit: 1, steps: 3, ms: 50 },
      });
      killFirstS0.add(runId);
      const run = await handle.client.waitForRun(runId);
      expect(run.status).toBe('SUCCEEDED');
      expect(killed.done).toBe(true);

      const events = await eventsOf(handle, runId);
      // s0's worker died (its next delivery says so) and no attempt ran while its lease held the slot.
      expect(events.some((e) => e.type === EventType.STEP_WORKER_LOST && e.step === 's0')).toBe(true);
      const dead = deadLeases[0] as SlotLease;
      const takenAt = dead.until - 2_000;
      const spans = attemptSpans(runId, events);
      // The killed delivery's own span (if its start was written) ends at s0's next start.
      const killedSpan = spans.filter((span) => span.step === 's0').sort((a, b) => a.start - b.start)[0];
      const later = spans.filter(
        (span) => span.start >= takenAt && (spans.length < 4 || span !== killedSpan),
      );
      expect(later.length).toBeGreaterThan(0);
      for (const span of later) expect(span.start).toBeGreaterThanOrEqual(dead.until);
      expect(await heldLeases(handle.deps.slots, [key])).toEqual([]);
    } finally {
      takeSlot.mockRestore();
      releaseSlot.mockRestore();
    }
  }, 120_000);
});
