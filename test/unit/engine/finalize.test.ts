import { beforeEach, describe, expect, it } from 'vitest';
import { EventType } from '../../../lib/eventTypes.ts';
import { finalizeRun } from '../../../lib/run/finalize.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { startRun } from '../../../lib/run/start.ts';
import { RunStatus } from '../../../lib/status.ts';
import { StepRunner } from '../../../lib/step/runner.ts';
import { s3Keys } from '../../../lib/store/keys.ts';
import { drain, engineDeps } from '../../support/engine.ts';
import { calls, diamond } from './jobs.ts';

async function started(input: Record<string, unknown> = {}) {
  const deps = engineDeps([diamond]);
  const runId = newRunId();
  const state = await startRun(deps, { job: 'diamond', input, runId });
  return { deps, runId, state, runner: new StepRunner(deps) };
}

const endEvents = async (deps: ReturnType<typeof engineDeps>, runId: string) =>
  (await deps.store.listEvents(runId)).events
    .map((e) => e.type)
    .filter(
      (t) => t === EventType.RUN_SUCCESS || t === EventType.RUN_FAILURE || t === EventType.RUN_CANCELED,
    );

beforeEach(() => {
  calls.length = 0;
});

describe('FinalizeRun', () => {
  it('ends a run whose steps all succeeded: its result from the sink, the manifest, one RUN_SUCCESS', async () => {
    const { deps, runId, state, runner } = await started({ x: 2 });
    await drain(deps, runner);

    const outcome = await finalizeRun(deps, state);

    expect(outcome).toMatchObject({
      runId,
      status: RunStatus.SUCCEEDED,
      result: 3 + 20,
      resultKey: s3Keys.runResult(runId),
      counts: { steps: 4, succeeded: 4, failed: 0, skipped: 0 },
    });
    expect(await deps.store.requireRun(runId)).toMatchObject({ status: RunStatus.SUCCEEDED, result: 23 });
    const manifest = await deps.payloads.getJson<{ steps: { key: string }[] }>(s3Keys.runResult(runId));
    expect(manifest.steps.map((s) => s.key)).toEqual(['a', 'b', 'c', 'd']);
    // Finalizing again answers the recorded outcome and writes nothing more.
    expect(await finalizeRun(deps, state)).toEqual(outcome);
    expect(await endEvents(deps, runId)).toEqual([EventType.RUN_SUCCESS]);
  });

  it('ends a run with a failed step FAILED, naming the first failure', async () => {
    const { deps, runId, state, runner } = await started({ failAt: 'c' });
    await drain(deps, runner);

    const outcome = await finalizeRun(deps, state);

    expect(outcome).toMatchObject({
      status: RunStatus.FAILED,
      error: { step: 'c', name: 'Error', message: 'c failed' },
      failedSteps: ['c'],
      skippedSteps: ['d'],
      counts: { succeeded: 2, failed: 1, skipped: 1 },
    });
    expect('cause' in outcome && outcome.cause).toMatch(/step 'c' failed with Error: c failed/);
    expect(await endEvents(deps, runId)).toEqual([EventType.RUN_FAILURE]);
  });

  it('sends a run whose counters ran ahead of its steps back to polling, with the recount', async () => {
    const { deps, runId, state } = await started();
    await deps.store.setRunCounts(runId, { succeeded: 4, failed: 0, skipped: 0 });

    const next = await finalizeRun(deps, state);

    expect(next).toMatchObject({ status: RunStatus.RUNNING, progress: 0 });
    expect((await deps.store.requireRun(runId)).status).toBe(RunStatus.RUNNING);
    expect((await deps.store.requireRun(runId)).succeeded).toBe(0);
    expect(await endEvents(deps, runId)).toEqual([]);
  });

  it('ends a canceling run CANCELED once none of its steps can run, counting them canceled', async () => {
    const { deps, runId, state } = await started();
    await deps.store.requestCancel(runId, 'enough');
    for (const key of ['a', 'b', 'c', 'd'])
      await deps.store.markStepCanceled(runId, key, ['QUEUED', 'WAITING'], 'canceled');

    const outcome = await finalizeRun(deps, state);

    expect(outcome).toMatchObject({ status: RunStatus.CANCELED, counts: { canceled: 4, succeeded: 0 } });
    expect('cause' in outcome && outcome.cause).toMatch(/run canceled \(enough\): 4 step\(s\) canceled/);
    expect(await endEvents(deps, runId)).toEqual([EventType.RUN_CANCELED]);
  });

  it('ends a run lambdag stopped itself FAILED with its error', async () => {
    const { deps, runId, state } = await started();
    const abort = { name: 'RunTimeoutError', message: 'the run timed out' };
    await deps.store.requestCancel(runId, abort.message, abort);
    for (const key of ['a', 'b', 'c', 'd'])
      await deps.store.markStepCanceled(runId, key, ['QUEUED', 'WAITING'], 'timed out');

    expect(await finalizeRun(deps, state)).toMatchObject({ status: RunStatus.FAILED, error: abort });
  });
});
