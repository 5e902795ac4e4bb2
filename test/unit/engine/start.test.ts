import { describe, expect, it } from 'vitest';
import { RunConflictError } from '../../../lib/errors.ts';
import { EventType } from '../../../lib/eventTypes.ts';
import { defineJob } from '../../../lib/job/defineJob.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { isStartResumption, PLAN_SLICE_ITEMS, startRun } from '../../../lib/run/start.ts';
import { RunStatus, StepStatus } from '../../../lib/status.ts';
import { engineDeps } from '../../support/engine.ts';
import { diamond } from './jobs.ts';

async function stepsOf(deps: ReturnType<typeof engineDeps>, runId: string) {
  const steps: Record<string, { status: string; pending: number }> = {};
  for await (const step of deps.store.listSteps(runId))
    steps[step.key] = { status: step.status, pending: step.pending };
  return steps;
}

describe('StartRun', () => {
  it('writes the run and its steps, dispatches the roots only, and records RUN_START', async () => {
    const deps = engineDeps([diamond], { retentionDays: 7 });
    const runId = newRunId();

    const state = await startRun(deps, { job: 'diamond', input: { x: 2 }, runId }, 'arn:execution');

    expect(state).toMatchObject({ runId, status: RunStatus.RUNNING, progress: 0, ticks: 0 });
    const run = await deps.store.requireRun(runId);
    expect(run).toMatchObject({
      status: RunStatus.RUNNING,
      stepCount: 4,
      stepsWritten: true,
      input: { x: 2, retries: 0 },
      executionArn: 'arn:execution',
    });
    expect(run.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(await stepsOf(deps, runId)).toEqual({
      a: { status: StepStatus.QUEUED, pending: 0 },
      b: { status: StepStatus.WAITING, pending: 1 },
      c: { status: StepStatus.WAITING, pending: 1 },
      d: { status: StepStatus.WAITING, pending: 2 },
    });
    expect(deps.dispatcher.sent).toEqual([
      expect.objectContaining({ runId, step: 'a', attempt: 1, expiresAt: run.expiresAt }),
    ]);
    const { events } = await deps.store.listEvents(runId);
    expect(events.map((e) => e.type)).toEqual([EventType.RUN_START]);
  });

  it('is safe to retry: one run, its steps kept as they are, the roots sent again', async () => {
    const deps = engineDeps([diamond]);
    const runId = newRunId();
    await startRun(deps, { job: 'diamond', runId });
    await deps.store.claimStep(runId, 'a', 1);

    const again = await startRun(deps, { job: 'diamond', runId });

    expect(again.status).toBe(RunStatus.RUNNING);
    // Already RUNNING: the retry neither rewrites the steps nor dispatches again.
    expect((await deps.store.getStep(runId, 'a'))?.status).toBe(StepStatus.RUNNING);
    expect(deps.dispatcher.sentSteps()).toEqual(['a@1']);
    expect((await deps.store.listEvents(runId)).events).toHaveLength(1);
  });

  it('sends the roots again when the first try died after writing the steps', async () => {
    const deps = engineDeps([diamond]);
    const runId = newRunId();
    await startRun(deps, { job: 'diamond', runId });
    // As if the first try died before moving the run to RUNNING.
    await deps.store.setRunStatus(runId, [RunStatus.RUNNING], RunStatus.STARTING);
    await deps.store.claimStep(runId, 'a', 1);

    await startRun(deps, { job: 'diamond', runId });

    expect(deps.dispatcher.sentSteps()).toEqual(['a@1', 'a@1']);
    expect((await deps.store.getStep(runId, 'a'))?.status).toBe(StepStatus.RUNNING);
    expect((await deps.store.requireRun(runId)).status).toBe(RunStatus.RUNNING);
  });

  it('writes a plan too big for one invocation in slices, going on where the last one stopped', async () => {
    const width = 2 * PLAN_SLICE_ITEMS + 500;
    const wide = defineJob('wide', (job) => {
      const root = job.step('root', () => 1);
      for (let i = 0; i < width; i++) job.step(`w${i}`, { dependsOn: { root } }, () => i);
    });
    const deps = engineDeps([wide]);
    const written: string[] = [];
    const putSteps = deps.store.putSteps.bind(deps.store);
    deps.store.putSteps = (steps, shards, expiresAt) => {
      written.push(...steps.map((step) => step.key));
      return putSteps(steps, shards, expiresAt);
    };
    // A deadline already past: each invocation writes one slice and hands over.
    const request = { job: 'wide' };
    const first = await startRun(deps, request, 'arn:execution', { deadline: 0 });
    expect(isStartResumption(first)).toBe(true);
    if (!isStartResumption(first)) return;
    expect(first).toMatchObject({
      status: RunStatus.STARTING,
      stepsWritten: PLAN_SLICE_ITEMS,
      stepCount: width + 1,
    });
    // The resumed request names the run, though the first one let StartRun choose its id.
    expect(first.resume).toEqual({ job: 'wide', runId: first.runId });
    expect(deps.dispatcher.sentSteps()).toEqual([]);

    const second = await startRun(deps, first.resume, 'arn:execution', { deadline: 0 });
    expect(second).toMatchObject({ status: RunStatus.STARTING, stepsWritten: 2 * PLAN_SLICE_ITEMS });
    const third = await startRun(deps, first.resume, 'arn:execution', { deadline: 0 });

    expect(third).toMatchObject({ runId: first.runId, status: RunStatus.RUNNING });
    // Every step item written once, in plan order; the root sent once the plan was whole.
    expect(written).toHaveLength(width + 1);
    expect(new Set(written).size).toBe(width + 1);
    expect(deps.dispatcher.sentSteps()).toEqual(['root@1']);
    expect(await deps.store.requireRun(first.runId)).toMatchObject({
      stepsWritten: true,
      stepCount: width + 1,
    });
  });

  it('writes a plan of one slice in one invocation, whatever the deadline', async () => {
    const deps = engineDeps([diamond]);
    const state = await startRun(deps, { job: 'diamond' }, undefined, { deadline: 0 });
    expect(state.status).toBe(RunStatus.RUNNING);
  });

  it('refuses a run id taken by a run of another job', async () => {
    const deps = engineDeps([diamond]);
    const runId = newRunId();
    await deps.store.createRun({
      runId,
      job: 'other',
      status: RunStatus.RUNNING,
      stepCount: 1,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    });
    await expect(startRun(deps, { job: 'diamond', runId })).rejects.toBeInstanceOf(RunConflictError);
    expect(deps.dispatcher.sent).toEqual([]);
  });
});
