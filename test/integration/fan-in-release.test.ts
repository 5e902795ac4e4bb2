import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectedSum } from '../../examples/fanout/job.ts';
import { StepStatus } from '../../lib/status.ts';
import { FAN_IN_SHARD_SIZE, shardOf } from '../../lib/step/fanIn.ts';
import { runToEnd, stepsOf, useStack } from '../support/stack.ts';

/**
 * A failed invocation's batch would come back after a minute (the visibility timeout), and
 * its INPROGRESS records expire after a minute (the invocation's timeout): a test that
 * waits for neither shows that the worker brings the batch back at once.
 */
const LONG_SECONDS = 60;
const handle = useStack({ visibilityTimeoutSeconds: LONG_SECONDS, stepWorkerTimeoutSeconds: LONG_SECONDS });

/** The resolveDependencies calls the handlers made for `dependent` of `runId`, with their upstream indices. */
function releasesOf(spy: { mock: { calls: unknown[][] } }, runId: string, dependent: string): number[][] {
  return spy.mock.calls
    .filter(([run, key]) => run === runId && key === dependent)
    .map(([, , indices]) => [...(indices as number[])]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a fan-in step released by worker batches', () => {
  it('resolves a batch of its upstream steps in one write, and is sent once with every input', async () => {
    const spy = vi.spyOn(handle.stack.deps.store, 'resolveDependencies');
    const n = 40;
    const run = await runToEnd(handle, 'fanout', { n });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n, sum: expectedSum(n) });

    const releases = releasesOf(spy, run.runId, 'sum');
    // Every upstream index resolved exactly once, and in fewer writes than upstream steps:
    // the event source hands the worker batches of up to 10.
    expect(releases.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(releases.length).toBeLessThan(n);
    expect(releases.some((indices) => indices.length > 1)).toBe(true);
    expect(handle.stack.faults.sends(run.runId, 'sum')).toBe(1);
  });

  it('counts a fan-in wider than a shard on its shards, and sends it once with every input', async () => {
    const spy = vi.spyOn(handle.stack.deps.store, 'resolveDependencies');
    const n = FAN_IN_SHARD_SIZE + 44;
    const run = await runToEnd(handle, 'fanout', { n });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n, sum: expectedSum(n) });
    expect(handle.stack.faults.sends(run.runId, 'sum')).toBe(1);

    const calls = spy.mock.calls.filter(([runId, key]) => runId === run.runId && key === 'sum');
    // Upstream steps on the shards (index / FAN_IN_SHARD_SIZE), each counted once...
    const onShards = calls.filter(([, , , shard]) => shard !== undefined);
    expect(onShards.flatMap(([, , indices]) => indices).sort((a, b) => a - b)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    for (const [, , indices, shard] of onShards) for (const i of indices) expect(shardOf(i)).toBe(shard);
    // ...and the two shards on the step item, each once.
    const onStep = calls.filter(([, , , shard]) => shard === undefined);
    expect(onStep.flatMap(([, , indices]) => indices).sort()).toEqual([0, 1]);
  });

  it('fails the invocation when the release cannot be written; the batch comes back at once and releases it once', {
    timeout: (LONG_SECONDS * 1000) / 2,
  }, async () => {
    const store = handle.stack.deps.store;
    const real = store.resolveDependencies.bind(store);
    let injected = 0;
    // The first release write fails as DynamoDB never does for us locally (not transient,
    // so it is not retried in place): the fault an emulator cannot produce.
    const spy = vi.spyOn(store, 'resolveDependencies').mockImplementation(async (...args) => {
      if (injected === 0) {
        injected++;
        throw new Error('injected: the fan-in release write failed');
      }
      return real(...args);
    });
    const one = vi.spyOn(store, 'resolveDependency');
    const deletes = vi.spyOn(store, 'deleteItems');
    const { failedInvocations: failedBefore, received: receivedBefore } = handle.stack.eventSource.stats();
    const n = 20;
    const run = await runToEnd(handle, 'fanout', { n });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n, sum: expectedSum(n) });
    expect(injected).toBe(1);
    expect(handle.stack.eventSource.stats().failedInvocations).toBeGreaterThan(failedBefore);
    // The failed batch's INPROGRESS idempotency records were deleted, not left to expire.
    const dropped = deletes.mock.calls.filter(([table]) => table === handle.deps.config.idempotencyTable);
    expect(dropped.flatMap(([, keys]) => keys).length).toBeGreaterThan(0);
    // The failed batch's steps came back and released the fan-in (one by one, as recoveries):
    // every index counted, the fan-in sent once.
    const resolved = [
      ...releasesOf(spy, run.runId, 'sum').flat(),
      ...one.mock.calls.filter(([r, key]) => r === run.runId && key === 'sum').map(([, , index]) => index),
    ];
    expect(new Set(resolved)).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
    expect(handle.stack.faults.sends(run.runId, 'sum')).toBe(1);
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('sum')).toMatchObject({ status: StepStatus.SUCCEEDED, attempt: 1 });
    expect(run.succeeded).toBe(n + 2);
    // The failed batch came back while the run went on, not a minute later: more receives
    // than the run's n + 2 messages (reconciliation, which the recovering deliveries ask
    // for to recount the run, may release the fan-in first; that is fine).
    expect(handle.stack.eventSource.stats().received - receivedBefore).toBeGreaterThan(n + 2);
  });

  it('sends it again in the same invocation when its message could not be sent at first', async () => {
    const dispatcher = handle.stack.deps.dispatcher;
    const real = dispatcher.dispatch.bind(dispatcher);
    let throttled = 0;
    // SQS throttles the fan-in's SendMessageBatch once, after it was marked QUEUED: the
    // retry must send it, not take "already QUEUED" for someone else's send.
    vi.spyOn(dispatcher, 'dispatch').mockImplementation(async (run, plan, items) => {
      if (throttled === 0 && items.some((item) => item.step === 'sum')) {
        throttled++;
        throw Object.assign(new Error('injected: Rate exceeded'), { name: 'ThrottlingException' });
      }
      return real(run, plan, items);
    });
    const n = 20;
    const run = await runToEnd(handle, 'fanout', { n });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n, sum: expectedSum(n) });
    expect(throttled).toBe(1);
    expect(handle.stack.faults.sends(run.runId, 'sum')).toBe(1);
    // Sent by the release's retry, not found later by reconciliation.
    const events = await handle.client.listEvents(run.runId);
    expect(events.events.filter((e) => e.type === 'RUN_RECONCILED')).toEqual([]);
  });
});
