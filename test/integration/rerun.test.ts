import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  NothingToRerunError,
  RunNotFinishedError,
  RunNotFoundError,
  UnknownStepError,
} from '../../lib/errors.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import { bodyRuns } from '../fixtures/jobs.ts';
import { eventsOf, runToEnd, stepsOf, useStack } from '../support/stack.ts';

const handle = useStack();

const ALL = ['a', 'x', 'b', 'c', 'd', 'e'];
/** How many times each step body ran in a run, in ALL's order. */
const bodies = (runId: string) => ALL.map((key) => bodyRuns.get(`${runId}/${key}`) ?? 0);
const flakyInput = (failOnce: boolean) => ({ n: 3, token: `t-${newRunId()}`, failOnce });
const CLEAN_RESULT = { d: 15, x: 100, sum: 115 };

describe('rerun --from-failure of a run that failed at one step', () => {
  it('runs only the failed and skipped steps, reuses the rest, and ends like a clean run', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(true));
    expect(parent.status).toBe(RunStatus.FAILED);
    expect(parent.failedSteps).toEqual(['b']);
    expect([...(parent.skippedSteps ?? [])].sort()).toEqual(['d', 'e']);

    const { runId, executionArn } = await handle.client.rerun(parent.runId, { fromFailure: true });
    const run = await handle.client.waitForRun(runId);
    expect(run).toMatchObject({ status: RunStatus.SUCCEEDED, parentRunId: parent.runId, reused: 3 });
    const clean = await runToEnd(handle, 'flaky', flakyInput(false));
    expect(run.result).toEqual(clean.result);
    expect(run.result).toEqual(CLEAN_RESULT);
    expect((await handle.stack.waitForExecution(executionArn)).status).toBe('SUCCEEDED');

    // a, x, c did not run again; b, d, e ran once each.
    expect(bodies(runId)).toEqual([0, 0, 1, 0, 1, 1]);
    const steps = await stepsOf(handle, runId);
    const parentSteps = await stepsOf(handle, parent.runId);
    for (const key of ['a', 'x', 'c']) {
      // The parent's output is reused as recorded: these small outputs are inline (a large
      // one would be its S3 pointer, copied, not the data).
      const parentStep = parentSteps.get(key);
      expect(parentStep?.outputKey).toBeUndefined();
      expect(steps.get(key)).toMatchObject({
        status: StepStatus.SUCCEEDED,
        reusedFrom: parent.runId,
        output: parentStep?.output,
      });
    }
    for (const key of ['b', 'd', 'e']) {
      expect(steps.get(key)?.status).toBe(StepStatus.SUCCEEDED);
      expect(steps.get(key)?.reusedFrom).toBeUndefined();
      expect(steps.get(key)).toHaveProperty('output');
    }
    const reusedEvent = (await eventsOf(handle, runId)).find((e) => e.type === EventType.STEP_REUSED);
    expect(reusedEvent?.data).toMatchObject({ parentRunId: parent.runId, count: 3 });
    // The parent is untouched.
    expect((await handle.client.getRun(parent.runId)).status).toBe(RunStatus.FAILED);
  });
});

describe('rerun --steps', () => {
  it('re-runs the chosen step and everything downstream of it, reusing the rest', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(false));
    expect(parent.status).toBe(RunStatus.SUCCEEDED);

    const { runId } = await handle.client.rerun(parent.runId, { steps: ['c'] });
    const run = await handle.client.waitForRun(runId);
    expect(run).toMatchObject({ status: RunStatus.SUCCEEDED, result: CLEAN_RESULT, reused: 3 });
    // c and its downstream d and e ran; a, x and b (not downstream of c) were reused.
    expect(bodies(runId)).toEqual([0, 0, 0, 1, 1, 1]);

    // A rerun of a rerun: a reused output names the run that produced it.
    const { runId: third } = await handle.client.rerun(runId, { steps: ['e'] });
    expect((await handle.client.waitForRun(third)).result).toEqual(CLEAN_RESULT);
    expect(bodies(third)).toEqual([0, 0, 0, 0, 0, 1]);
    const steps = await stepsOf(handle, third);
    expect(steps.get('a')?.reusedFrom).toBe(parent.runId);
    expect(steps.get('c')?.reusedFrom).toBe(runId);
  });

  it('also runs a step that did not succeed in the parent: it has no output to reuse', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(true));
    const { runId } = await handle.client.rerun(parent.runId, { steps: ['x'] });
    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe(RunStatus.SUCCEEDED);
    // x and its downstream e; b (failed) and its downstream d; a and c reused.
    expect(bodies(runId)).toEqual([0, 1, 1, 0, 1, 1]);
  });
});

describe('rerun with bad input', () => {
  it('throws RunNotFoundError for an unknown run', async () => {
    await expect(
      handle.client.rerun('01NOSUCHRUN000000000000000', { fromFailure: true }),
    ).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('refuses a run that is still running', async () => {
    // `slow` holds its one step for 3 s: long enough to find the run RUNNING.
    const running = await handle.client.startRun({ job: 'slow' });
    let status: string | undefined;
    for (let i = 0; i < 300 && status !== RunStatus.RUNNING; i++) {
      status = (await handle.deps.store.getRun(running.runId))?.status;
      if (status !== RunStatus.RUNNING) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const error = await handle.client.rerun(running.runId, { fromFailure: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunNotFinishedError);
    expect((error as RunNotFinishedError).code).toBe('RUN_NOT_FINISHED');
    expect((error as Error).message).toContain(`run '${running.runId}' is RUNNING`);
    await handle.client.waitForRun(running.runId);
  });

  it('names every unknown step', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(false));
    const error = await handle.client
      .rerun(parent.runId, { steps: ['nope', 'b', 'zzz'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownStepError);
    expect((error as UnknownStepError).steps).toEqual(['nope', 'zzz']);
    expect((error as Error).message).toMatch(/job 'flaky' has no steps 'nope', 'zzz'; its steps: /);
  });

  it('says there is nothing to re-run from failure in a run that succeeded', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(false));
    const error = await handle.client.rerun(parent.runId, { fromFailure: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NothingToRerunError);
    expect((error as Error).message).toContain('it succeeded, so there is no failure to re-run from');
  });

  it('asks what to re-run when given neither --from-failure nor --steps', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(false));
    await expect(handle.client.rerun(parent.runId, {})).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('fails a rerun started directly through Step Functions with the same typed error', async () => {
    const parent = await runToEnd(handle, 'flaky', flakyInput(false));
    const { executionArn } = await handle.deps.aws.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: handle.stack.stateMachineArn,
        input: JSON.stringify({ job: 'flaky', parentRunId: parent.runId, rerun: { steps: ['nope'] } }),
      }),
    );
    const execution = await handle.stack.waitForExecution(executionArn ?? '');
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('UnknownStepError');
    expect(execution.cause).toContain("job 'flaky' has no step 'nope'");
  });
});
