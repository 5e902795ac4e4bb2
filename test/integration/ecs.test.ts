import { ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { MAX_RELAUNCHES } from '../../lib/ecs/supervisor.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { eventsOf, runToEnd, StepStatus, stepsOf, until, useStack } from '../support/stack.ts';

// Tasks beat every second, are stuck after 4 s without a beat, never start if not started
// after 3 s, and get SIGKILL 5 s after SIGTERM.
const handle = useStack({
  ecsHeartbeatSeconds: 1,
  ecsStaleSeconds: 4,
  ecsStartTimeoutSeconds: 3,
  ecsStopTimeoutSeconds: 5,
});

/** The ARN of the local ECS task running `step` of the run, once the step is RUNNING in it. */
async function runningTask(runId: string, step: string): Promise<string> {
  return until(`${step} to run in an ECS task`, async () => {
    const record = (await stepsOf(handle, runId)).get(step);
    return record?.status === StepStatus.RUNNING ? record.taskArn : undefined;
  });
}

const taskStatus = (taskArn: string) =>
  handle.stack.ecs.list().find((t) => t.taskArn === taskArn)?.lastStatus;

describe('a DAG mixing Lambda and ECS steps', () => {
  it('runs the ECS step in a task (another process) and the run succeeds end to end', async () => {
    const run = await runToEnd(handle, 'long', { chunks: 3, chunkMs: 50 });
    expect(run.status).toBe('SUCCEEDED');
    const result = run.result as { total: number; ranIn: number };
    expect(result.total).toBe(6);
    // The step body ran in the task's process, not in this one (where the Lambda steps run).
    expect(result.ranIn).not.toBe(process.pid);
    const steps = await stepsOf(handle, run.runId);
    expect([...steps.values()].every((s) => s.status === StepStatus.SUCCEEDED)).toBe(true);
    // The task that ran it claimed it by its ARN, and is no longer supervised once done.
    expect(steps.get('crunch')?.taskArn).toMatch(/^arn:aws:ecs:.*:task\//);
    expect((await handle.deps.store.requireRun(run.runId)).tasks ?? []).toEqual([]);
  });

  it('runs a map step’s items each in a task, and collects their outputs in order', async () => {
    const run = await runToEnd(handle, 'mapped-ecs', { n: 3 });
    expect(run.status).toBe('SUCCEEDED');
    const outputs = run.result as { value: number; ranIn: number }[];
    expect(outputs.map((o) => o.value)).toEqual([0, 2, 4]);
    expect(outputs.every((o) => o.ranIn !== process.pid)).toBe(true);
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('double[1]')?.taskArn).toMatch(/^arn:aws:ecs:.*:task\//);
    expect((await handle.deps.store.requireRun(run.runId)).tasks ?? []).toEqual([]);
  });

  it("writes the ECS step's progress reports as STEP_PROGRESS events", async () => {
    const run = await runToEnd(handle, 'long', { chunks: 4, chunkMs: 400 });
    expect(run.status).toBe('SUCCEEDED');
    const progress = (await eventsOf(handle, run.runId)).filter((e) => e.type === EventType.STEP_PROGRESS);
    // 4 reports 400 ms apart, at most one a second: the first, at least one more, and the last.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(4);
    expect(progress.every((e) => e.step === 'crunch')).toBe(true);
    expect(progress.at(-1)?.message).toBe('chunk 4 of 4');
  });
});

describe('payloads too large for a message, through ECS tasks', () => {
  it("writes one task's output to S3, reads it in the next task, and fails fast from the task", async () => {
    const run = await runToEnd(handle, 'ecs-payloads');
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'read', code: 'FAIL_FAST' });
    expect(run.error?.message).toContain('read 300000 characters, then failed on purpose');
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('big')?.status).toBe(StepStatus.SUCCEEDED);
    expect(steps.get('read')?.status).toBe(StepStatus.FAILED);
    // Fail-fast from the task stopped the Lambda step running beside it.
    expect(steps.get('later')?.status).toBe(StepStatus.CANCELED);
  });
});

describe('an ECS task that stops or dies mid-step', () => {
  it('retries the step when its task is stopped (SIGTERM aborts the step), then succeeds', async () => {
    const { runId } = await handle.client.startRun({ job: 'long', input: { chunks: 20, chunkMs: 250 } });
    const cluster = handle.deps.config.ecs?.cluster;
    const taskArn = await runningTask(runId, 'crunch');
    const { taskArns = [] } = await handle.deps.aws.ecs.send(new ListTasksCommand({ cluster }));
    expect(taskArns).toContain(taskArn);
    await handle.deps.aws.ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason: 'test' }));

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    expect((await stepsOf(handle, runId)).get('crunch')).toMatchObject({
      status: StepStatus.SUCCEEDED,
      attempt: 2,
    });
    const retry = (await eventsOf(handle, runId)).find((e) => e.type === 'STEP_RETRY' && e.step === 'crunch');
    expect(retry?.message).toContain("TaskStoppedError: the ECS task running step 'crunch' got SIGTERM");
  }, 60_000);

  it('finds a task killed mid-step (SIGKILL: no result, no goodbye) stopped and retries the step', async () => {
    const { runId } = await handle.client.startRun({ job: 'ecs-faults', input: { mode: 'wait' } });
    const taskArn = await runningTask(runId, 'work');
    handle.stack.ecs.kill(taskArn, 'SIGKILL');

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toMatchObject({ attempt: 2 });
    const events = await eventsOf(handle, runId);
    const lost = events.find((e) => e.type === EventType.STEP_TASK_LOST);
    expect(lost).toMatchObject({ step: 'work', attempt: 1 });
    expect(lost?.message).toContain('it stopped without a result (exit code 137');
    expect(events.find((e) => e.type === EventType.STEP_RETRY)?.message).toContain('TaskLostError');
  }, 60_000);

  it('stops a task whose heartbeat went stale (its event loop is stuck) and retries the step', async () => {
    const { runId } = await handle.client.startRun({ job: 'ecs-faults', input: { mode: 'stuck' } });
    const taskArn = await runningTask(runId, 'work');

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toMatchObject({ attempt: 2 });
    const lost = (await eventsOf(handle, runId)).find((e) => e.type === EventType.STEP_TASK_LOST);
    expect(lost?.message).toMatch(/no heartbeat for \d+s; the task was stopped/);
    // The stuck task was stopped (SIGTERM could not run in it: SIGKILL after the stop timeout).
    await until('the stuck task to stop', async () => (taskStatus(taskArn) === 'STOPPED' ? true : undefined));
  }, 60_000);

  it('stops a task past its timeoutSeconds and fails the run with STEP_TIMEOUT', async () => {
    const { runId } = await handle.client.startRun({ job: 'ecs-faults', input: { mode: 'timeout' } });
    const taskArn = await runningTask(runId, 'work');

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'work', code: 'STEP_TIMEOUT', name: 'StepTimeoutError' });
    expect(run.error?.message).toBe("step 'work' did not finish within 1s");
    const steps = await stepsOf(handle, runId);
    expect(steps.get('work')).toMatchObject({ status: StepStatus.FAILED, attempt: 1 });
    expect(steps.get('after')?.status).toBe(StepStatus.SKIPPED);
    await until('the timed-out task to stop', async () =>
      taskStatus(taskArn) === 'STOPPED' ? true : undefined,
    );
  }, 60_000);
});

describe('an ECS task that never starts', () => {
  it('is stopped after the start timeout and its attempt sent again, to a task that starts', async () => {
    handle.stack.ecs.neverStartNext(1);
    const before = handle.stack.ecs.list().length;
    const run = await runToEnd(handle, 'long', { chunks: 1, chunkMs: 0 });
    expect(run.status).toBe('SUCCEEDED');

    const tasks = handle.stack.ecs.list().slice(before);
    expect(tasks).toHaveLength(2);
    expect(tasks.every((t) => t.lastStatus === 'STOPPED')).toBe(true);
    const lost = (await eventsOf(handle, run.runId)).find((e) => e.type === EventType.STEP_TASK_LOST);
    expect(lost).toMatchObject({ step: 'crunch', attempt: 1 });
    expect(lost?.message).toBe('its ECS task did not start within 3s; sending the attempt again');
    // Not a retry: the attempt never ran.
    expect((await stepsOf(handle, run.runId)).get('crunch')).toMatchObject({
      status: 'SUCCEEDED',
      attempt: 1,
    });
    expect(lost?.data?.taskArn).toBe(tasks[0]?.taskArn);
  }, 60_000);

  it('fails the attempt, to be retried, when its tasks never start again and again', async () => {
    // The first attempt's task and both of its relaunches never start; the retry's does.
    handle.stack.ecs.neverStartNext(MAX_RELAUNCHES + 1);
    const run = await runToEnd(handle, 'long', { chunks: 1, chunkMs: 0 });
    expect(run.status).toBe('SUCCEEDED');

    expect((await stepsOf(handle, run.runId)).get('crunch')).toMatchObject({
      status: 'SUCCEEDED',
      attempt: 2,
    });
    const events = await eventsOf(handle, run.runId);
    expect(events.filter((e) => e.type === EventType.STEP_TASK_LOST && e.attempt === 1)).toHaveLength(
      MAX_RELAUNCHES,
    );
    const retry = events.find((e) => e.type === EventType.STEP_RETRY && e.step === 'crunch');
    expect(retry?.message).toContain(
      `TaskLostError: the ECS task running step 'crunch' was lost: ${MAX_RELAUNCHES + 1} tasks in a row never ran the attempt`,
    );
  }, 90_000);
});

describe('canceling a run with a step on ECS', () => {
  it('stops its task (StopTask) and records the step CANCELED, not retried', async () => {
    const { runId } = await handle.client.startRun({ job: 'long', input: { chunks: 200, chunkMs: 100 } });
    const taskArn = await runningTask(runId, 'crunch');
    await handle.client.cancelRun(runId, { reason: 'test' });

    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('CANCELED');
    const crunch = (await stepsOf(handle, runId)).get('crunch');
    expect(crunch).toMatchObject({ status: StepStatus.CANCELED, attempt: 1 });
    await until('the task to stop', async () => (taskStatus(taskArn) === 'STOPPED' ? true : undefined));
    const events = await eventsOf(handle, runId);
    expect(events.some((e) => e.type === EventType.STEP_RETRY)).toBe(false);
  }, 60_000);
});
