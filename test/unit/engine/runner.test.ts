import { beforeEach, describe, expect, it } from 'vitest';
import { EventType } from '../../../lib/eventTypes.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { startRun } from '../../../lib/run/start.ts';
import { RunStatus, StepStatus } from '../../../lib/status.ts';
import { AttemptStatus } from '../../../lib/step/attemptOutcome.ts';
import { StepRunner } from '../../../lib/step/runner.ts';
import { drain, type EngineDeps, engineDeps } from '../../support/engine.ts';
import { calls, diamond } from './jobs.ts';

/** A started run of `diamond` and a runner; `first` is the root's message, taken. */
async function started(input: Record<string, unknown> = {}) {
  const deps = engineDeps([diamond]);
  const runId = newRunId();
  await startRun(deps, { job: 'diamond', input, runId });
  const [first] = deps.dispatcher.take();
  if (!first) throw new Error('no root dispatched');
  return { deps, runId, first, runner: new StepRunner(deps) };
}

const stepOf = (deps: EngineDeps, runId: string, key: string) => deps.store.getStep(runId, key);

beforeEach(() => {
  calls.length = 0;
});

describe('a step attempt', () => {
  it('claims the step, runs the body, records the output and releases its single-upstream dependents', async () => {
    const { deps, runId, first, runner } = await started({ x: 2 });

    const outcome = await runner.run(first);

    expect(outcome).toMatchObject({ status: AttemptStatus.SUCCEEDED, step: 'a', attempt: 1 });
    expect(await stepOf(deps, runId, 'a')).toMatchObject({
      status: StepStatus.SUCCEEDED,
      output: 2,
      claims: 1,
    });
    expect((await deps.store.requireRun(runId)).succeeded).toBe(1);
    // b and c have one upstream: sent at once, by this message, with a's output along.
    expect(deps.dispatcher.sent.map((m) => [m.step, m.upstream])).toEqual([
      ['b', { a: 2 }],
      ['c', { a: 2 }],
    ]);
    expect((await stepOf(deps, runId, 'b'))?.status).toBe(StepStatus.WAITING);
    const { events } = await deps.store.listEvents(runId);
    expect(events.map((e) => [e.type, e.step])).toEqual([
      [EventType.RUN_START, undefined],
      [EventType.STEP_START, 'a'],
      [EventType.STEP_SUCCESS, 'a'],
    ]);
  });

  it('runs the body once under duplicate delivery, and the duplicate finishes the release', async () => {
    const { deps, runId, first, runner } = await started();
    await runner.run(first);
    deps.dispatcher.take();

    const duplicate = await runner.run(first);

    expect(duplicate.status).toBe(AttemptStatus.ALREADY_DONE);
    expect(calls).toEqual(['a@1']);
    // The recovery queues b and c (WAITING -> QUEUED), sends them, and asks for a recount.
    expect(deps.dispatcher.sentSteps()).toEqual(['b@1', 'c@1']);
    expect((await stepOf(deps, runId, 'b'))?.status).toBe(StepStatus.QUEUED);
    expect((await deps.store.requireRun(runId)).reconcile).toBe(true);
    expect((await deps.store.requireRun(runId)).succeeded).toBe(1);
  });

  it('schedules the next attempt when the body fails within its retries', async () => {
    const { deps, runId, first, runner } = await started({ flaky: 'a', retries: 1 });

    const outcome = await runner.run(first);

    expect(outcome.status).toBe(AttemptStatus.RETRYING);
    expect(await stepOf(deps, runId, 'a')).toMatchObject({
      status: StepStatus.QUEUED,
      attempt: 2,
      error: { name: 'Error', message: 'a flaked' },
    });
    expect(deps.dispatcher.sentSteps()).toEqual(['a@2']);
    expect(deps.dispatcher.delays[0]).toBeLessThanOrEqual(1);
    const run = await deps.store.requireRun(runId);
    expect([run.succeeded, run.failed]).toEqual([0, 0]);
    // The retry runs and succeeds; the old attempt's message is stale now.
    const [retry] = deps.dispatcher.take();
    expect((await runner.run(retry as typeof first)).status).toBe(AttemptStatus.SUCCEEDED);
    expect(await stepOf(deps, runId, 'a')).toMatchObject({ status: StepStatus.SUCCEEDED, attempt: 2 });
    expect(await stepOf(deps, runId, 'a')).not.toHaveProperty('error');
    expect((await runner.run(first)).status).toBe(AttemptStatus.STALE);
    expect(calls).toEqual(['a@1', 'a@2']);
  });

  it('fails the step for good past its retries: downstream skipped, the run’s first error kept', async () => {
    const { deps, runId, first, runner } = await started({ failAt: 'a' });

    const outcome = await runner.run(first);

    expect(outcome.status).toBe(AttemptStatus.FAILED);
    expect(await stepOf(deps, runId, 'a')).toMatchObject({ status: StepStatus.FAILED, attempt: 1 });
    for (const key of ['b', 'c', 'd'])
      expect(await stepOf(deps, runId, key)).toMatchObject({
        status: StepStatus.SKIPPED,
        skippedBecause: "upstream step 'a' failed",
      });
    const run = await deps.store.requireRun(runId);
    expect(run).toMatchObject({ failed: 1, skipped: 3, error: { step: 'a', message: 'a failed' } });
    expect(deps.dispatcher.sent).toEqual([]);
    // A redelivery of the failed attempt changes nothing and runs nothing.
    expect((await runner.run(first)).status).toBe(AttemptStatus.ALREADY_DONE);
    expect((await deps.store.requireRun(runId)).skipped).toBe(3);
    expect(calls).toEqual(['a@1']);
  });

  it('does not start the body of a run being canceled, and ends the attempt CANCELED', async () => {
    const { deps, runId, first, runner } = await started();
    await deps.store.requestCancel(runId, 'enough');

    const outcome = await runner.run(first);

    expect(outcome.status).toBe(AttemptStatus.CANCELED);
    expect(calls).toEqual([]);
    expect(await stepOf(deps, runId, 'a')).toMatchObject({
      status: StepStatus.CANCELED,
      canceledBecause: 'the run was canceled before the step started',
    });
    expect(deps.dispatcher.sent).toEqual([]);
    expect((await deps.store.requireRun(runId)).status).toBe(RunStatus.CANCELING);
  });

  it('runs a whole run: each step once, the fan-in released once by the last of its upstream steps', async () => {
    const { deps, runId, first, runner } = await started({ x: 3 });
    deps.dispatcher.sent.push(first);

    const outcomes = await drain(deps, runner);

    expect(outcomes.map((o) => `${o.step}:${o.status}`)).toEqual([
      'a:SUCCEEDED',
      'b:SUCCEEDED',
      'c:SUCCEEDED',
      'd:SUCCEEDED',
    ]);
    expect(calls.sort()).toEqual(['a@1', 'b@1', 'c@1', 'd@1']);
    expect(await stepOf(deps, runId, 'd')).toMatchObject({ status: StepStatus.SUCCEEDED, output: 4 + 30 });
    expect((await deps.store.requireRun(runId)).succeeded).toBe(4);
  });
});
