import { describe, expect, it } from 'vitest';
import { judgeRunningTask } from '../../lib/ecs/supervisor.ts';
import type { TaskState } from '../../lib/ecs/tasks.ts';
import { StepTimeoutError, TaskLostError } from '../../lib/errors.ts';
import { StepStatus } from '../../lib/status.ts';
import type { StepRecord } from '../../lib/store/types.ts';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const limits = { ecsStaleSeconds: 120, ecsStartTimeoutSeconds: 600 };
const arn = 'arn:aws:ecs:us-east-1:000000000000:task/c/1';

function step(heartbeatSecondsAfterStart: number): StepRecord {
  return {
    runId: 'r',
    key: 'crunch',
    status: StepStatus.RUNNING,
    attempt: 1,
    pending: 0,
    taskArn: arn,
    startedAt: at(0),
    heartbeatAt: at(heartbeatSecondsAfterStart),
    updatedAt: at(heartbeatSecondsAfterStart),
  };
}
const task = (lastStatus: string, more: Partial<TaskState> = {}): TaskState => ({
  taskArn: arn,
  lastStatus,
  ...more,
});

describe('judging a RUNNING attempt by its ECS task', () => {
  it('leaves a running task with a fresh heartbeat alone', () => {
    expect(judgeRunningTask(step(590), task('RUNNING'), 3_600, T0 + 600_000, limits)).toBeUndefined();
  });

  it('calls a task that stopped without a result lost, with its exit code and reason', () => {
    const verdict = judgeRunningTask(
      step(10),
      task('STOPPED', { exitCode: 137, stoppedReason: 'Task killed by SIGKILL' }),
      undefined,
      T0 + 20_000,
      limits,
    );
    expect(verdict).toBeInstanceOf(TaskLostError);
    expect(verdict?.message).toContain('it stopped without a result (exit code 137, Task killed by SIGKILL)');
  });

  it('calls a task ECS no longer knows lost', () => {
    const verdict = judgeRunningTask(step(10), task('MISSING'), undefined, T0 + 20_000, limits);
    expect(verdict?.message).toContain('ECS no longer knows the task');
  });

  it('calls a running task without a heartbeat for longer than ecsStaleSeconds lost', () => {
    expect(judgeRunningTask(step(10), task('RUNNING'), undefined, T0 + 130_000, limits)).toBeUndefined();
    const verdict = judgeRunningTask(step(10), task('RUNNING'), undefined, T0 + 131_000, limits);
    expect(verdict).toBeInstanceOf(TaskLostError);
    expect(verdict?.message).toContain('no heartbeat for 121s');
  });

  it('calls it a timeout once past timeoutSeconds plus the grace, heartbeat or not', () => {
    expect(judgeRunningTask(step(170), task('RUNNING'), 60, T0 + 180_000, limits)).toBeUndefined();
    const verdict = judgeRunningTask(step(179), task('RUNNING'), 60, T0 + 181_000, limits);
    expect(verdict).toBeInstanceOf(StepTimeoutError);
    expect(verdict?.message).toBe("step 'crunch' did not finish within 60s");
  });

  it('calls a stuck or stopped task past its timeoutSeconds a timeout, not a loss', () => {
    expect(judgeRunningTask(step(1), task('RUNNING'), 60, T0 + 125_000, limits)).toBeInstanceOf(
      StepTimeoutError,
    );
    expect(judgeRunningTask(step(61), task('STOPPED'), 60, T0 + 62_000, limits)).toBeInstanceOf(
      StepTimeoutError,
    );
  });
});
