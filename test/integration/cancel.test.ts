import { describe, expect, it } from 'vitest';
import { readPollSettings } from '../../lib/aws/config.ts';
import { RunCanceledError, RunNotFoundError } from '../../lib/errors.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { finalizeRun, type RunOutcome } from '../../lib/run/finalize.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { pollRun } from '../../lib/run/poll.ts';
import type { PollState } from '../../lib/run/pollPolicy.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import { AttemptStatus, StepRunner } from '../../lib/step/runner.ts';
import type { RunRecord, StepRecord } from '../../lib/store/types.ts';
import { abortsSeen, bodyRuns } from '../fixtures/jobs.ts';
import { eventsOf, runToEnd, stepsOf, until, useStack } from '../support/stack.ts';

// Workers check for a cancel twice a second here (5 s by default), so the tests stay short.
const handle = useStack({ functionEnvironment: { LAMBDAG_CANCEL_CHECK_SECONDS: '0.5' } });

const runs = (runId: string, step: string) => bodyRuns.get(`${runId}/${step}`) ?? 0;

describe('cancelling a run mid-way', () => {
  it('aborts the running step, never starts the rest, and ends the execution lambdag.RunCanceled', async () => {
    const token = `mid-${newRunId()}`;
    const { runId, executionArn } = await handle.client.startRun({ job: 'cancelable', input: { token } });
    // `hold` is running (and waits for its signal); `quick` has finished.
    await until('hold to run and quick to succeed', async () => {
      const steps = await stepsOf(handle, runId);
      const ready =
        steps.get('hold')?.status === StepStatus.RUNNING &&
        steps.get('quick')?.status === StepStatus.SUCCEEDED &&
        runs(runId, 'hold') === 1;
      return ready ? true : undefined;
    });

    const result = await handle.client.cancelRun(runId, { reason: 'test' });
    expect(result).toMatchObject({ runId, requested: true, status: RunStatus.CANCELING });
    const again = await handle.client.cancelRun(runId);
    expect(again.requested).toBe(false);
    expect(again.message).toContain('already canceling');

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe(RunStatus.CANCELED);
    expect(run).toMatchObject({ succeeded: 1, canceled: 3, cancelReason: 'test' });
    const execution = await handle.stack.waitForExecution(executionArn);
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('lambdag.RunCanceled');

    const steps = await stepsOf(handle, runId);
    expect(steps.get('quick')?.status).toBe(StepStatus.SUCCEEDED);
    expect(steps.get('hold')).toMatchObject({
      status: StepStatus.CANCELED,
      canceledBecause: 'the run was canceled while the step was running',
    });
    for (const key of ['after', 'last']) {
      expect(steps.get(key)).toMatchObject({
        status: StepStatus.CANCELED,
        canceledBecause: 'the run was canceled before the step started',
      });
    }
    // Bodies: the two roots once each; the two steps not yet started never ran.
    expect([runs(runId, 'quick'), runs(runId, 'hold'), runs(runId, 'after'), runs(runId, 'last')]).toEqual([
      1, 1, 0, 0,
    ]);
    // The running step saw its signal aborted, with the reason.
    const reason = abortsSeen.get(`${runId}/hold`);
    expect(reason).toBeInstanceOf(RunCanceledError);
    expect((reason as RunCanceledError).code).toBe('RUN_CANCELED');

    const types = (await eventsOf(handle, runId)).map((e) => e.type);
    expect(types).toContain(EventType.RUN_CANCEL_REQUESTED);
    expect(types).toContain(EventType.STEP_CANCELED);
    expect(types).not.toContain(EventType.STEP_FAILURE);
    expect(types.at(-1)).toBe(EventType.RUN_CANCELED);

    const manifest = (await handle.client.getResultDocument(run)) as {
      status: string;
      counts: Record<string, number>;
    };
    expect(manifest.status).toBe(RunStatus.CANCELED);
    expect(manifest.counts).toMatchObject({ steps: 4, succeeded: 1, canceled: 3 });

    // A canceled run re-runs from where it stopped: `quick` is reused, the rest run.
    const rerun = await handle.client.rerun(runId, { fromFailure: true });
    const rerunRun = await handle.client.waitForRun(rerun.runId);
    expect(rerunRun).toMatchObject({
      status: RunStatus.SUCCEEDED,
      result: 30,
      parentRunId: runId,
      reused: 1,
    });
    expect(runs(rerun.runId, 'quick')).toBe(0);
    expect(['hold', 'after', 'last'].map((key) => runs(rerun.runId, key))).toEqual([1, 1, 1]);
  });
});

describe('cancelling a run that is not running', () => {
  it('is a no-op with a message for a finished run', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 1 });
    const result = await handle.client.cancelRun(run.runId);
    expect(result).toMatchObject({ runId: run.runId, requested: false, status: RunStatus.SUCCEEDED });
    expect(result.message).toBe(`run '${run.runId}' already finished SUCCEEDED; nothing to cancel`);
    const after = await handle.client.getRun(run.runId);
    expect(after.status).toBe(RunStatus.SUCCEEDED);
    expect(after.cancelRequestedAt).toBeUndefined();
    const types = (await eventsOf(handle, run.runId)).map((e) => e.type);
    expect(types).not.toContain(EventType.RUN_CANCEL_REQUESTED);
  });

  it('throws RunNotFoundError for an unknown run', async () => {
    await expect(handle.client.cancelRun('01NOSUCHRUN000000000000000')).rejects.toBeInstanceOf(
      RunNotFoundError,
    );
  });
});

/** A run and its steps written straight to the store (no execution, no messages). */
async function seedRun(status: RunStatus, steps: Partial<Record<string, StepStatus>>): Promise<RunRecord> {
  const runId = newRunId();
  const now = new Date().toISOString();
  const run: RunRecord = {
    runId,
    job: 'cancelable',
    status: RunStatus.RUNNING,
    stepCount: 4,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    createdAt: now,
    updatedAt: now,
    input: { token: `seed-${runId}` },
  };
  await handle.deps.store.createRun(run);
  const items: StepRecord[] = Object.entries(steps).map(([key, stepStatus]) => ({
    runId,
    key,
    status: stepStatus as StepStatus,
    attempt: 1,
    pending: 0,
    updatedAt: now,
  }));
  await handle.deps.store.putSteps(items);
  if (status === RunStatus.CANCELING) await handle.deps.store.requestCancel(runId);
  return handle.deps.store.requireRun(runId);
}

describe('the step worker, for a run that is canceling', () => {
  it('does not start a queued step: the attempt ends CANCELED and its body never runs', async () => {
    const run = await seedRun(RunStatus.CANCELING, { quick: StepStatus.QUEUED });
    const runner = new StepRunner(handle.deps);
    const outcome = await runner.run({
      v: 1,
      runId: run.runId,
      job: 'cancelable',
      step: 'quick',
      attempt: 1,
      input: run.input,
    });
    expect(outcome.status).toBe(AttemptStatus.CANCELED);
    expect(runs(run.runId, 'quick')).toBe(0);
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('quick')).toMatchObject({
      status: StepStatus.CANCELED,
      canceledBecause: 'the run was canceled before the step started',
    });
  });
});

describe('PollRun and FinalizeRun, for a run that is canceling', () => {
  const state = (runId: string): PollState => ({
    runId,
    status: RunStatus.RUNNING,
    waitSeconds: 1,
    progress: 0,
    idleSeconds: 0,
    ticks: 0,
  });

  it('waits for a running step, gives up on it after the grace period, then ends the run CANCELED', async () => {
    const run = await seedRun(RunStatus.CANCELING, {
      quick: StepStatus.SUCCEEDED,
      hold: StepStatus.RUNNING,
      after: StepStatus.WAITING,
      last: StepStatus.QUEUED,
    });

    // Within the grace period: the steps not started are canceled, the running one is left to its worker.
    const first = await pollRun(handle.deps, state(run.runId), {
      ...readPollSettings(),
      cancelGraceSeconds: 3_600,
    });
    expect(first.status).toBe(RunStatus.CANCELING);
    let steps = await stepsOf(handle, run.runId);
    expect(steps.get('hold')?.status).toBe(StepStatus.RUNNING);
    expect(steps.get('after')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('last')?.status).toBe(StepStatus.CANCELED);

    // FinalizeRun does not end a run with a step still running: back to polling.
    const early = (await finalizeRun(handle.deps, first)) as PollState;
    expect(early.status).toBe(RunStatus.RUNNING);

    // Past the grace period, the lost step is canceled too, and the run is done.
    const second = await pollRun(handle.deps, first, { ...readPollSettings(), cancelGraceSeconds: 0.001 });
    expect(second.status).toBe(RunStatus.CANCELED);
    steps = await stepsOf(handle, run.runId);
    expect(steps.get('hold')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('hold')?.canceledBecause).toContain('after the cancel request');

    const outcome = (await finalizeRun(handle.deps, second)) as RunOutcome;
    expect(outcome.status).toBe(RunStatus.CANCELED);
    expect(outcome.counts).toMatchObject({ steps: 4, succeeded: 1, canceled: 3 });
    expect(outcome.cause).toContain('run canceled');
    expect((await handle.client.getRun(run.runId)).status).toBe(RunStatus.CANCELED);
    // A late result from the lost worker is refused by its precondition.
    const late = await handle.deps.store.recordSuccess(
      run.runId,
      'hold',
      1,
      { outputKey: 'runs/x/output.json' },
      1,
    );
    expect(late.ok).toBe(false);
  });
});
