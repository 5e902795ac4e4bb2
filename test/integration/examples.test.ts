import { describe, expect, it } from 'vitest';
import { expectedSum } from '../../examples/fanout/job.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { eventsOf, runToEnd, statusCounts, stepsOf, useStack } from '../support/stack.ts';

const handle = useStack();

describe('the diamond example, run through the state machine', () => {
  it('passes real values from a through b and c to d', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 1 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ b: 4, c: 6, sum: 10 });
    const steps = await stepsOf(handle, run.runId);
    expect(statusCounts(steps)).toEqual({ SUCCEEDED: 4 });
    const types = (await eventsOf(handle, run.runId)).map((e) => e.type);
    expect(types.filter((t) => t === EventType.STEP_START)).toHaveLength(4);
    expect(types.filter((t) => t === EventType.STEP_SUCCESS)).toHaveLength(4);
    expect(types).toContain(EventType.RUN_START);
    expect(types.at(-1)).toBe(EventType.RUN_SUCCESS);
  });

  it('writes the result manifest with every step to S3', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 2 });
    const manifest = (await handle.client.getResultDocument(run)) as {
      status: string;
      steps: { key: string }[];
      result: unknown;
    };
    expect(manifest.status).toBe('SUCCEEDED');
    expect(manifest.steps.map((s) => s.key).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(manifest.result).toEqual({ b: 6, c: 9, sum: 15 });
  });

  it('ends the Step Functions execution with the run outcome', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'diamond', input: { x: 3 } });
    await handle.client.waitForRun(runId);
    const execution = await handle.stack.waitForExecution(executionArn);
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}')).toMatchObject({
      runId,
      status: 'SUCCEEDED',
      result: { sum: 20 },
    });
  });
});

describe('the serial example', () => {
  it('runs 20 steps in a chain, each adding one', async () => {
    const run = await runToEnd(handle, 'serial', { start: 5 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toBe(25);
    expect(run.succeeded).toBe(20);
  });
});

describe('the fanout example', () => {
  it('fans out to the default 100 steps and sums what they returned', async () => {
    const run = await runToEnd(handle, 'fanout');
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n: 100, sum: expectedSum(100) });
    expect(run.stepCount).toBe(102);
  });

  it('completes with N = 1,000', async () => {
    const run = await runToEnd(handle, 'fanout', { n: 1000 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ n: 1000, sum: expectedSum(1000) });
    expect(run.succeeded).toBe(1002);
  });
});

describe('the failing example', () => {
  it('fails the run naming the step and its error, skips downstream, keeps independent branches', async () => {
    const run = await runToEnd(handle, 'failing');
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'explode', name: 'Error' });
    expect(run.error?.message).toContain('the warehouse is read-only');
    expect(run.failedSteps).toEqual(['explode']);
    expect(run.skippedSteps).toEqual(['report']);
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('explode')).toMatchObject({ status: 'FAILED', attempt: 2 });
    expect(steps.get('report')).toMatchObject({
      status: 'SKIPPED',
      skippedBecause: "upstream step 'explode' failed",
    });
    expect(steps.get('audit')?.status).toBe('SUCCEEDED');
    const types = (await eventsOf(handle, run.runId)).map((e) => e.type);
    expect(types).toContain(EventType.STEP_RETRY);
    expect(types).toContain(EventType.STEP_FAILURE);
    expect(types.at(-1)).toBe(EventType.RUN_FAILURE);
  });

  it('ends the execution failed with the cause', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'failing' });
    await handle.client.waitForRun(runId);
    const execution = await handle.stack.waitForExecution(executionArn);
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('lambdag.RunFailed');
    expect(execution.cause).toContain("step 'explode' failed");
  });

  it('does not retry a NonRetryableError', async () => {
    const run = await runToEnd(handle, 'failing-fast');
    expect(run.status).toBe('FAILED');
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('explode')).toMatchObject({ status: 'FAILED', attempt: 1 });
    expect(run.error).toMatchObject({ name: 'NonRetryableError', code: 'NON_RETRYABLE' });
  });
});

describe('the map example', () => {
  it('lists the objects it seeded, reads each in a map item, and sums them', async () => {
    const run = await runToEnd(handle, 'map', { n: 30, maxConcurrency: 4 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({ objects: 30, sum: (29 * 30) / 2 });
    expect(run.stepCount).toBe(4 + 30);
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('process[object-00017]')).toMatchObject({ status: 'SUCCEEDED', output: 17 });
  });
});
