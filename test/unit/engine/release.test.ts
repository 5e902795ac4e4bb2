import { describe, expect, it } from 'vitest';
import { newRunId } from '../../../lib/run/ids.ts';
import { startRun } from '../../../lib/run/start.ts';
import { StepStatus } from '../../../lib/status.ts';
import { releaseDependents, releaseFanIn } from '../../../lib/step/release.ts';
import { engineDeps } from '../../support/engine.ts';
import { diamond } from './jobs.ts';

/** A started `diamond` run with `done` recorded SUCCEEDED (nothing released yet). */
async function upstreamDone(done: readonly string[] = ['a', 'b', 'c']) {
  const deps = engineDeps([diamond]);
  const runId = newRunId();
  await startRun(deps, { job: 'diamond', runId });
  deps.dispatcher.take();
  for (const key of done) {
    await deps.store.claimStep(runId, key, 1, { fromWaiting: true });
    await deps.store.recordSuccess(runId, key, 1, { output: 1 }, 1);
  }
  const plan = diamond.plan({ x: 1, retries: 0 });
  const run = { runId, job: 'diamond', input: { x: 1, retries: 0 } };
  return { deps, runId, plan, run };
}

describe('releasing dependents', () => {
  it('sends a single-upstream dependent with its first release, and marks it QUEUED on a recovery', async () => {
    const { deps, runId, plan, run } = await upstreamDone(['a']);

    expect(await releaseDependents(deps, run, plan, 'a', { output: { output: 1 }, delivery: 'm1' })).toEqual([
      'b',
      'c',
    ]);
    expect((await deps.store.getStep(runId, 'b'))?.status).toBe(StepStatus.WAITING);
    // A recovery goes through WAITING -> QUEUED: one of two recovering deliveries sends.
    expect(await releaseDependents(deps, run, plan, 'a', { retry: true, delivery: 'm1' })).toEqual([
      'b',
      'c',
    ]);
    expect(await releaseDependents(deps, run, plan, 'a', { retry: true, delivery: 'm2' })).toEqual([]);
    expect(await deps.store.getStep(runId, 'b')).toMatchObject({
      status: StepStatus.QUEUED,
      releasedBy: 'm1',
    });
    expect(deps.dispatcher.sentSteps()).toEqual(['b@1', 'c@1', 'b@1', 'c@1']);
  });

  it('queues a fan-in once, when its last upstream step is released, however often releases repeat', async () => {
    const { deps, runId, plan, run } = await upstreamDone();

    expect(await releaseDependents(deps, run, plan, 'b', { delivery: 'mb' })).toEqual([]);
    // b's release delivered again (a duplicate): counted once, d still waits for c.
    expect(await releaseDependents(deps, run, plan, 'b', { retry: true, delivery: 'mb2' })).toEqual([]);
    expect((await deps.store.getStep(runId, 'd'))?.pending).toBe(1);
    expect(await releaseDependents(deps, run, plan, 'c', { delivery: 'mc' })).toEqual(['d']);
    // Another delivery of c: d is QUEUED by mc, so it is not sent twice.
    expect(await releaseDependents(deps, run, plan, 'c', { retry: true, delivery: 'mc2' })).toEqual([]);

    expect(await deps.store.getStep(runId, 'd')).toMatchObject({
      status: StepStatus.QUEUED,
      pending: 0,
      releasedBy: 'mc',
    });
    expect(deps.dispatcher.sentSteps()).toEqual(['d@1']);
  });

  it('sends a fan-in again on a retry of the same delivery that queued it (it may have died before sending)', async () => {
    const { deps, plan, run } = await upstreamDone();
    await releaseDependents(deps, run, plan, 'b', { delivery: 'mb' });
    await releaseDependents(deps, run, plan, 'c', { delivery: 'mc' });

    expect(await releaseDependents(deps, run, plan, 'c', { retry: true, delivery: 'mc' })).toEqual(['d']);
    expect(deps.dispatcher.sentSteps()).toEqual(['d@1', 'd@1']);
  });

  it('counts a batch’s upstream steps of a fan-in in one release, once across duplicate batches', async () => {
    const { deps, runId, plan, run } = await upstreamDone();
    const batch = { run, plan, dependent: 'd', upstreamIndices: [0, 1], delivery: 'batch-1' };

    expect(await releaseFanIn(deps, batch)).toBe(true);
    expect(await releaseFanIn(deps, { ...batch, delivery: 'batch-2' })).toBe(false);
    expect(await releaseFanIn(deps, { ...batch, delivery: 'batch-2' }, { retry: true })).toBe(false);

    expect(await deps.store.getStep(runId, 'd')).toMatchObject({ status: StepStatus.QUEUED, pending: 0 });
    expect(deps.dispatcher.sentSteps()).toEqual(['d@1']);
  });
});
