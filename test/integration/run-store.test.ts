import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fanout } from '../../examples/fanout/job.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { initialSteps } from '../../lib/run/rerun.ts';
import { StepStatus } from '../../lib/status.ts';
import { FAN_IN_SHARD_SIZE, resolveUpstream, shardOf } from '../../lib/step/fanIn.ts';
import { RunLayout } from '../../lib/store/keys.ts';
import type { StepRecord } from '../../lib/store/types.ts';
import { useStack } from '../support/stack.ts';
import { runStoreContract } from '../unit/store/runStoreContract.ts';

const handle = useStack();
// The stage's layout (LAMBDAG_RUN_PARTITIONS), to read raw items where the store put them.
const layout = () => new RunLayout(handle.deps.config.runPartitions);

describe('the DynamoDB run store (on the emulator), by the contract every RunStore keeps', () => {
  runStoreContract(() => handle.deps.store);
});

function waitingStep(runId: string, pending: number): StepRecord {
  const now = new Date().toISOString();
  return { runId, key: 'fan-in', status: StepStatus.WAITING, attempt: 1, pending, updatedAt: now };
}

describe('resolving a fan-in step’s dependencies (on the emulator)', () => {
  it('counts each upstream once however often its release is retried, down to zero', async () => {
    const runId = newRunId();
    await handle.deps.store.putSteps([waitingStep(runId, 3)]);
    const store = handle.deps.store;
    expect(await store.resolveDependency(runId, 'fan-in', 0)).toBe(2);
    expect(await store.resolveDependency(runId, 'fan-in', 0)).toBe(2);
    expect(await store.resolveDependency(runId, 'fan-in', 2)).toBe(1);
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(0);
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(0);
    expect((await store.getStep(runId, 'fan-in'))?.pending).toBe(0);
  });

  it('says so for a step that does not exist', async () => {
    await expect(handle.deps.store.resolveDependency(newRunId(), 'nope', 0)).rejects.toThrow(
      /step 'nope' of run '.*' does not exist/,
    );
  });
});

describe('a fan-in wider than a shard (on the emulator)', () => {
  const n = 2 * FAN_IN_SHARD_SIZE + 88;
  const plan = fanout.plan({ n });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function startRun() {
    const runId = newRunId();
    const { steps, shards } = initialSteps(runId, plan, new Date().toISOString());
    await handle.deps.store.putSteps(steps, shards);
    return runId;
  }

  /** Upstream indices 0..n-1 in batches of 10, in a scrambled order (fixed, not random). */
  function batches(): number[][] {
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    return Array.from({ length: Math.ceil(n / 10) }, (_, b) => order.slice(b * 10, b * 10 + 10));
  }

  const shardItem = async (runId: string, shard: number) =>
    (
      await handle.deps.aws.ddb.send(
        new GetCommand({
          TableName: handle.deps.config.runsTable,
          Key: layout().fanInShardItem(runId, 'sum', shard),
        }),
      )
    ).Item;

  it('is released by the last upstream step, once, however often batches are retried', async () => {
    const runId = await startRun();
    const all = batches();
    const released: number[] = [];
    for (const [b, indices] of all.entries()) {
      if (await resolveUpstream(handle.deps, runId, plan, 'sum', indices)) released.push(b);
      // Every third batch is delivered twice; the second counts nothing.
      if (b % 3 === 0 && b < all.length - 1)
        expect(await resolveUpstream(handle.deps, runId, plan, 'sum', indices)).toBe(false);
    }
    expect(released).toEqual([all.length - 1]);
    // A redelivery after the release finds it at zero again (the WAITING -> QUEUED write decides who sends).
    expect(await resolveUpstream(handle.deps, runId, plan, 'sum', all[0] as number[])).toBe(true);

    const step = await handle.deps.store.getStep(runId, 'sum');
    expect(step?.pending).toBe(0);
    for (const shard of [0, 1, 2]) {
      const item = await shardItem(runId, shard);
      expect(item?.pending).toBe(0);
      expect(Object.keys(item?.resolvedBy ?? {}).length).toBe(shard < 2 ? FAN_IN_SHARD_SIZE : 88);
    }
    // The step item holds its shards, not the n upstream steps.
    const raw = await handle.deps.aws.ddb.send(
      new GetCommand({
        TableName: handle.deps.config.runsTable,
        Key: layout().stepItem(runId, 'sum'),
      }),
    );
    expect(Object.keys(raw.Item?.resolvedBy ?? {}).sort()).toEqual(['0', '1', '2']);
  });

  it('is released when the write resolving an emptied shard failed and the batch came back', async () => {
    const runId = await startRun();
    const all = batches();
    for (const indices of all.slice(0, -1)) await resolveUpstream(handle.deps, runId, plan, 'sum', indices);
    const store = handle.deps.store;
    const real = store.resolveDependencies.bind(store);
    let injected = 0;
    vi.spyOn(store, 'resolveDependencies').mockImplementation(async (...args) => {
      // The shard reached zero; the worker dies before the step item hears of it.
      if (args[3] === undefined && injected++ === 0) throw new Error('injected: worker lost');
      return real(...args);
    });
    const last = all.at(-1) as number[];
    await expect(resolveUpstream(handle.deps, runId, plan, 'sum', last)).rejects.toThrow(/injected/);
    // The shards the last batch emptied are still counted on the step item.
    expect((await store.getStep(runId, 'sum'))?.pending).toBe(new Set(last.map(shardOf)).size);
    expect(await resolveUpstream(handle.deps, runId, plan, 'sum', last)).toBe(true);
    expect((await store.getStep(runId, 'sum'))?.pending).toBe(0);
  });

  it('says so for a shard that does not exist', async () => {
    const runId = newRunId();
    await expect(handle.deps.store.resolveDependency(runId, 'sum', 3, 0)).rejects.toThrow(
      /shard 0 of step 'sum' of run '.*' does not exist/,
    );
  });
});

describe('events (on the emulator)', () => {
  it('lists a short attempt’s STEP_START, stored in its outcome’s item, just before it, also past a cursor', async () => {
    const store = handle.deps.store;
    const runId = newRunId();
    const first = store.prepareEvent({ runId, type: EventType.RUN_START });
    const startedAt = new Date(Date.now() - 5).toISOString();
    const success = store.prepareEvent(
      { runId, type: EventType.STEP_SUCCESS, step: 'a', attempt: 2 },
      startedAt,
    );
    await store.putEvents([first, success]);

    const all = await store.listEvents(runId);
    expect(all.events.map((e) => [e.type, e.step, e.attempt])).toEqual([
      [EventType.RUN_START, undefined, undefined],
      [EventType.STEP_START, 'a', 2],
      [EventType.STEP_SUCCESS, 'a', 2],
    ]);
    expect(all.events[1]?.at).toBe(startedAt);
    expect(all.events[2]).not.toHaveProperty('startedAt');
    // A reader that had read up to RUN_START gets both with the next page.
    const page = await store.listEvents(runId, first.sk);
    expect(page.events.map((e) => e.type)).toEqual([EventType.STEP_START, EventType.STEP_SUCCESS]);
    expect(page.cursor).toBe(success.sk);
  });
});
