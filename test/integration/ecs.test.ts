import { ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { eventsOf, runToEnd, StepStatus, stepsOf, until, useStack } from '../support/stack.ts';

const handle = useStack();

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
  });

  it('retries the ECS step when its task is stopped (SIGTERM aborts the step), then succeeds', async () => {
    const { runId } = await handle.client.startRun({ job: 'long', input: { chunks: 40, chunkMs: 250 } });
    const cluster = handle.deps.config.ecs?.cluster;
    const taskArn = await until('the crunch task to run', async () => {
      const steps = await stepsOf(handle, runId);
      if (steps.get('crunch')?.status !== StepStatus.RUNNING) return undefined;
      const { taskArns = [] } = await handle.deps.aws.ecs.send(new ListTasksCommand({ cluster }));
      return taskArns[0];
    });
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
});
