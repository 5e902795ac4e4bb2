import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EventType } from '../../../lib/eventTypes.ts';
import { defineJob } from '../../../lib/job/defineJob.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { pollRun } from '../../../lib/run/poll.ts';
import type { PollState } from '../../../lib/run/pollPolicy.ts';
import { RunStatus, StepStatus } from '../../../lib/status.ts';
import { StepRunner } from '../../../lib/step/runner.ts';
import { drain, engineDeps, startedRun, TEST_POLL_OPTIONS } from '../../support/engine.ts';
import { calls, diamond } from './jobs.ts';

const OPTIONS = TEST_POLL_OPTIONS;

/** A job with a run timeout already past (0.001 s), for the timeout rule. */
const hasty = defineJob('hasty', { input: z.object({}), timeoutSeconds: 0.001 }, (job) => {
  job.step('only', () => 1);
});

async function started(input: Record<string, unknown> = {}) {
  const deps = engineDeps([diamond, hasty]);
  const runId = newRunId();
  const state = await startedRun(deps, { job: 'diamond', input, runId });
  return { deps, runId, state, runner: new StepRunner(deps) };
}

beforeEach(() => {
  calls.length = 0;
});

describe('PollRun', () => {
  it('answers RUNNING, waiting longer, while steps are left', async () => {
    const { deps, state } = await started();

    const next = await pollRun(deps, state, OPTIONS);

    expect(next).toMatchObject({ status: RunStatus.RUNNING, progress: 0, ticks: 1 });
    expect(next.waitSeconds).toBeGreaterThanOrEqual(state.waitSeconds);
  });

  it('answers SUCCEEDED once every step is counted, FAILED when one failed', async () => {
    const ok = await started();
    await drain(ok.deps, ok.runner);
    expect(await pollRun(ok.deps, ok.state, OPTIONS)).toMatchObject({
      status: RunStatus.SUCCEEDED,
      progress: 4,
    });

    const bad = await started({ failAt: 'b' });
    await drain(bad.deps, bad.runner);
    expect(await pollRun(bad.deps, bad.state, OPTIONS)).toMatchObject({
      status: RunStatus.FAILED,
      progress: 4,
    });
  });

  it('answers a finished run’s status as it is, without looking further', async () => {
    const { deps, runId, state } = await started();
    await deps.store.setRunStatus(runId, [RunStatus.RUNNING], RunStatus.CANCELED);

    expect(await pollRun(deps, state, OPTIONS)).toMatchObject({ status: RunStatus.CANCELED, ticks: 1 });
  });

  it('recounts a run a worker flagged, from its steps', async () => {
    const { deps, runId, state, runner } = await started();
    await drain(deps, runner);
    // As if the worker died between recording d and adding it to the counters.
    await deps.store.setRunCounts(runId, { succeeded: 3, failed: 0, skipped: 0 });
    await deps.store.requestReconcile(runId);

    const next = await pollRun(deps, state, OPTIONS);

    expect(next).toMatchObject({ status: RunStatus.SUCCEEDED, progress: 4 });
    const run = await deps.store.requireRun(runId);
    expect(run.succeeded).toBe(4);
    expect(run.reconcile).toBeUndefined();
  });

  it('sweeps a canceling run: steps not started are CANCELED, the answer CANCELED when none runs', async () => {
    const { deps, runId, state } = await started();
    await deps.store.requestCancel(runId, 'enough');

    const next = await pollRun(deps, state, OPTIONS);

    expect(next.status).toBe(RunStatus.CANCELED);
    for (const key of ['a', 'b', 'c', 'd'])
      expect((await deps.store.getStep(runId, key))?.status).toBe(StepStatus.CANCELED);
  });

  it('keeps a canceling run CANCELING while a step is still running within the grace period', async () => {
    const { deps, runId, state } = await started();
    await deps.store.claimStep(runId, 'a', 1);
    await deps.store.requestCancel(runId, 'enough');

    const next = await pollRun(deps, state, OPTIONS);

    expect(next.status).toBe(RunStatus.CANCELING);
    expect((await deps.store.getStep(runId, 'a'))?.status).toBe(StepStatus.RUNNING);
    expect((await deps.store.getStep(runId, 'b'))?.status).toBe(StepStatus.CANCELED);
  });

  it('stops a run past its timeout: CANCELING with the timeout as its error', async () => {
    const deps = engineDeps([hasty]);
    const runId = newRunId();
    const state: PollState = await startedRun(deps, { job: 'hasty', runId });
    await new Promise((resolve) => setTimeout(resolve, 5));

    await pollRun(deps, state, OPTIONS);

    const run = await deps.store.requireRun(runId);
    expect(run.status).toBe(RunStatus.CANCELING);
    expect(run.abortError).toMatchObject({ name: 'RunTimeoutError' });
    const { events } = await deps.store.listEvents(runId);
    expect(events.map((e) => e.type)).toContain(EventType.RUN_CANCEL_REQUESTED);
  });
});
