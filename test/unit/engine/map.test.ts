import { beforeEach, describe, expect, it } from 'vitest';
import { defineJob, type JobBuilder } from '../../../lib/job/defineJob.ts';
import { finalizeRun } from '../../../lib/run/finalize.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { reconcileRun } from '../../../lib/run/reconcile.ts';
import { startRun } from '../../../lib/run/start.ts';
import { RunStatus, StepStatus } from '../../../lib/status.ts';
import { EXPANSION_BATCH } from '../../../lib/step/mapExpansion.ts';
import { StepRunner } from '../../../lib/step/runner.ts';
import { drain, engineDeps } from '../../support/engine.ts';
import { failedOnce, innerCalls, innerFailedOnce, itemCalls, nested, squares } from './mapJobs.ts';

async function run(input: Record<string, unknown>) {
  const deps = engineDeps([squares]);
  const runId = newRunId();
  const state = await startRun(deps, { job: 'squares', input, runId });
  const runner = new StepRunner(deps);
  return { deps, runId, state, runner };
}

const squaresOf = (n: number) => Array.from({ length: n }, (_, i) => i * i);

beforeEach(() => {
  itemCalls.length = 0;
  failedOnce.clear();
  innerCalls.length = 0;
  innerFailedOnce.clear();
});

async function runNested(input: Record<string, unknown>) {
  const deps = engineDeps([nested]);
  const runId = newRunId();
  const state = await startRun(deps, { job: 'nested', input, runId });
  return { deps, runId, state, runner: new StepRunner(deps) };
}

describe('map steps', () => {
  it.each([0, 1, 7])(
    'runs a map of %i item(s); the collector gets their outputs in item order',
    async (n) => {
      const { deps, runId, state, runner } = await run({ n });
      await drain(deps, runner);

      const outcome = await finalizeRun(deps, state);
      expect(outcome).toMatchObject({
        status: RunStatus.SUCCEEDED,
        result: { values: squaresOf(n), total: squaresOf(n).reduce((a, b) => a + b, 0) },
        counts: { steps: 3 + n, succeeded: 3 + n, failed: 0 },
      });
      expect(await deps.store.getStep(runId, 'square')).toMatchObject({
        status: StepStatus.SUCCEEDED,
        output: { items: n, failed: 0 },
      });
      expect(itemCalls.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    },
  );

  it('runs a wide map (sharded fan-in, several expansion batches) in item order, each item once', async () => {
    const n = EXPANSION_BATCH + 100;
    const { deps, state, runner } = await run({ n });
    await drain(deps, runner);

    const outcome = await finalizeRun(deps, state);
    expect(outcome).toMatchObject({ status: RunStatus.SUCCEEDED, result: { values: squaresOf(n) } });
    expect(new Set(itemCalls).size).toBe(n);
    expect(itemCalls).toHaveLength(n);
  });

  it('fans out over an async iterable output, and names items by the key function', async () => {
    const { deps, runId, state, runner } = await run({ n: 3, keyed: true, iterable: true });
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({ result: { values: [0, 1, 4] } });
    expect((await deps.store.getStep(runId, 'square[n2]'))?.output).toBe(4);
  });

  it('sends only maxConcurrency items at first; each item that ends sends the next', async () => {
    const { deps, state, runner } = await run({ n: 10, maxConcurrency: 3 });
    const [list] = deps.dispatcher.take();
    await runner.run(list as never);
    expect(deps.dispatcher.sentSteps()).toEqual(['square[0]@1', 'square[1]@1', 'square[2]@1']);
    const [first, ...others] = deps.dispatcher.take();
    await runner.run(first as never);
    expect(deps.dispatcher.sentSteps()).toEqual(['square[3]@1']);
    for (const message of others) await runner.run(message);
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({ result: { values: squaresOf(10) } });
  });

  it('succeeds with failed items it tolerates; the collector gets the succeeded ones', async () => {
    const { deps, state, runner } = await run({ n: 10, failAt: [3, 7], tolerated: 2 });
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: squaresOf(10).filter((_, i) => i !== 3 && i !== 7) },
    });
  });

  it('fails the map past its tolerance (a percentage), and skips the collector', async () => {
    const { deps, runId, state, runner } = await run({ n: 10, failAt: [3, 7], tolerated: '10%' });
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.FAILED,
      error: { step: 'square', code: 'MAP_ITEMS_FAILED' },
      failedSteps: ['square'],
    });
    expect((await deps.store.getStep(runId, 'sum'))?.status).toBe(StepStatus.SKIPPED);
  });

  it('a rerun from failure runs only the failed items and reuses the others’ outputs', async () => {
    const {
      deps,
      runId: parentRunId,
      state,
      runner,
    } = await run({ n: 12, maxConcurrency: 4, failOnce: [3, 8] });
    await drain(deps, runner);
    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.FAILED,
      failedSteps: ['square'],
    });
    itemCalls.length = 0;

    const rerunId = newRunId();
    const rerun = await startRun(deps, {
      job: 'squares',
      runId: rerunId,
      parentRunId,
      rerun: { fromFailure: true },
    });
    await drain(deps, runner);

    expect(itemCalls.sort((a, b) => a - b)).toEqual([3, 8]);
    expect(await finalizeRun(deps, rerun)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: squaresOf(12) },
      counts: { steps: 3 + 12, succeeded: 15 },
    });
    expect(await deps.store.getStep(rerunId, 'square[0]')).toMatchObject({
      status: StepStatus.SUCCEEDED,
      reusedFrom: parentRunId,
    });
    expect((await deps.store.requireRun(rerunId)).reused).toBe(1 + 10);
  });

  it('a rerun writes one STEP_REUSED event for the map’s reused items, however often it resumes', async () => {
    const { deps, runId: parentRunId, state, runner } = await run({ n: 5, failOnce: [2] });
    await drain(deps, runner);
    expect(await finalizeRun(deps, state)).toMatchObject({ status: RunStatus.FAILED });

    const rerunId = newRunId();
    await startRun(deps, { job: 'squares', runId: rerunId, parentRunId, rerun: { fromFailure: true } });
    const [map] = deps.dispatcher.take();
    await runner.run(map as never);
    // Reconciliation's re-send of the same map step: the expansion is done, no second event.
    await runner.run(map as never);
    await drain(deps, runner);

    const events = (await deps.store.listEvents(rerunId)).events;
    const reused = events.filter((e) => e.type === 'STEP_REUSED' && e.step === 'square');
    expect(reused).toHaveLength(1);
    expect(reused[0]?.data).toEqual({
      parentRunId,
      count: 4,
      steps: ['square[0]', 'square[1]', 'square[3]', 'square[4]'],
    });
  });

  it('a crash mid-expansion is finished by the redelivery: no item lost or run twice', async () => {
    const n = EXPANSION_BATCH * 2 + 10;
    const { deps, state, runner } = await run({ n, maxConcurrency: 600 });
    const [list] = deps.dispatcher.take();
    const createSteps = deps.store.createSteps.bind(deps.store);
    let batches = 0;
    deps.store.createSteps = async (...args) => {
      if (args[0].length > 0 && ++batches === 2) throw new Error('worker died mid-expansion');
      return createSteps(...args);
    };
    await expect(runner.run(list as never)).rejects.toThrow('worker died mid-expansion');
    deps.store.createSteps = createSteps;
    // The first batch's items may already run meanwhile; the list's redelivery resumes.
    const early = deps.dispatcher.take();
    expect(early).toHaveLength(0);
    await runner.run(list as never);
    await runner.run(list as never);
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: squaresOf(n) },
      counts: { steps: 3 + n },
    });
    expect(itemCalls).toHaveLength(n);
  });
});

describe('a map step’s own message', () => {
  it('resumes an expansion its upstream’s worker left half done (as reconciliation sends it)', async () => {
    const n = EXPANSION_BATCH + 10;
    const { deps, state, runner } = await run({ n });
    const [list] = deps.dispatcher.take();
    const createSteps = deps.store.createSteps.bind(deps.store);
    deps.store.createSteps = async (...args) => {
      if (args[0].length > 0 && args[0][0]?.key !== 'square[0]') throw new Error('worker died mid-expansion');
      return createSteps(...args);
    };
    await expect(runner.run(list as never)).rejects.toThrow('worker died mid-expansion');
    deps.store.createSteps = createSteps;
    expect(deps.dispatcher.take()).toHaveLength(0);

    const outcome = await runner.run({ ...(list as never as object), step: 'square' } as never);
    expect(outcome.status).toBe('EXPANDED');
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: squaresOf(n) },
    });
    expect(itemCalls).toHaveLength(n);
  });
});

describe('a map nested in a map', () => {
  it('runs element j of outer item i as item [i][j]; the collector gets them flat, in (i, j) order', async () => {
    const { deps, runId, state, runner } = await runNested({ sizes: [2, 0, 3], maxConcurrency: 2 });
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: [0, 2, 40, 42, 44] },
      counts: { steps: 4 + 3 + 5, succeeded: 12 },
    });
    expect(await deps.store.getStep(runId, 'scale[2][1]')).toMatchObject({
      status: StepStatus.SUCCEEDED,
      output: 42,
      item: { map: 'scale', index: 3, count: 5 },
    });
    expect(await deps.store.getStep(runId, 'scale')).toMatchObject({ output: { items: 5, failed: 0 } });
    expect(innerCalls.sort()).toEqual(['0:0', '0:1', '2:0', '2:1', '2:2']);
  });

  it('runs zero inner items when every outer item returns an empty list', async () => {
    const { deps, state, runner } = await runNested({ sizes: [0, 0] });
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: [] },
    });
    expect(innerCalls).toEqual([]);
  });

  it('a rerun from failure runs only the failed inner items', async () => {
    const {
      deps,
      runId: parentRunId,
      state,
      runner,
    } = await runNested({
      sizes: [2, 1, 3],
      innerFailOnce: ['2:1'],
    });
    await drain(deps, runner);
    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.FAILED,
      failedSteps: ['scale'],
    });
    innerCalls.length = 0;

    const rerun = await startRun(deps, {
      job: 'nested',
      runId: newRunId(),
      parentRunId,
      rerun: { fromFailure: true },
    });
    await drain(deps, runner);

    expect(innerCalls).toEqual(['2:1']);
    expect(await finalizeRun(deps, rerun)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: [0, 2, 20, 40, 42, 44] },
    });
  });
});

describe('defining a map step', () => {
  const define = (build: (job: JobBuilder<unknown>) => void) => () => defineJob('bad-map', build);

  it('rejects a map over an unknown step, a bad maxConcurrency or tolerance', () => {
    expect(
      define((job) => {
        job.map('m', { over: 'nope' as never }, (x: unknown) => x);
      }),
    ).toThrow("depends on unknown step 'nope'");
    expect(
      define((job) => {
        const list = job.step('list', () => [1]);
        job.map('m', { over: list, maxConcurrency: 0 }, (x: unknown) => x);
      }),
    ).toThrow('maxConcurrency must be a positive whole number');
    expect(
      define((job) => {
        const list = job.step('list', () => [1]);
        job.map('m', { over: list, toleratedFailures: '150%' }, (x: unknown) => x);
      }),
    ).toThrow('toleratedFailures must be');
  });

  it('takes a map over a map (one level), and rejects a second level naming the three maps', () => {
    expect(
      define((job) => {
        const list = job.step('list', () => [[1]]);
        const m = job.map('m', { over: list }, (x: number[]) => x);
        job.map('n', { over: m }, (x: number) => [x]);
      }),
    ).not.toThrow();
    expect(
      define((job) => {
        const list = job.step('list', () => [[1]]);
        const m = job.map('m', { over: list }, (x: number[]) => x);
        const n = job.map('n', { over: m }, (x: number) => [x]);
        job.map('o', { over: n }, (x: number) => x);
      }),
    ).toThrow("map step 'o' maps over map step 'n', which maps over map step 'm': maps nest one level only");
  });
});

describe('reconciliation of a map’s items', () => {
  it('sends a WAITING item whose lane’s previous item ended, when that item’s message was lost', async () => {
    const { deps, runId, state, runner } = await run({ n: 6, maxConcurrency: 2 });
    // Every message delivered but square[4]'s, which is lost.
    for (let sent = deps.dispatcher.take(); sent.length > 0; sent = deps.dispatcher.take()) {
      for (const message of sent) if (message.step !== 'square[4]') await runner.run(message);
    }
    expect((await deps.store.getStep(runId, 'square[4]'))?.status).toBe(StepStatus.WAITING);

    const report = await reconcileRun(deps, await deps.store.requireRun(runId), {
      queuedLostSeconds: 0,
      runningLostSeconds: 60,
    });
    expect(report.released).toBe(1);
    await drain(deps, runner);

    expect(await finalizeRun(deps, state)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: { values: squaresOf(6) },
    });
  });
});
