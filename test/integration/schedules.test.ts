import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { runIdForClientToken } from '../../lib/run/ids.ts';
import { hourly } from '../fixtures/jobs.ts';
import { useStack } from '../support/stack.ts';

/** A fake clock: the scheduler fires when the test says time has passed. */
let now = Date.parse('2026-11-24T10:00:00Z');

const handle = useStack({ schedules: { now: () => now, checkEveryMs: 0 } });

describe('job schedules on the embedded stack', () => {
  it('lists the schedules of the local stage only', () => {
    const upcoming = handle.stack.scheduler?.upcoming() ?? [];
    expect(upcoming.map((s) => `${s.job}/${s.schedule}`).sort()).toEqual([
      'diamond/every-minute',
      'hourly/every-hour',
    ]);
    expect(upcoming.find((s) => s.job === 'hourly')?.next).toBe('2026-11-24T11:00:00.000Z');
  });

  it('fires nothing before a tick is due', () => {
    now += 30_000;
    expect(handle.stack.scheduler?.fireDue()).toEqual([]);
  });

  it('starts a run of the job with the schedule input when the tick comes, through the state machine', async () => {
    now = Date.parse('2026-11-24T11:00:30Z');
    const fired = handle.stack.scheduler?.fireDue() ?? [];
    const tick = fired.find((f) => f.job === 'hourly');
    expect(tick).toMatchObject({ schedule: 'every-hour', tick: '2026-11-24T11:00:00Z' });
    expect(tick?.error).toBeUndefined();

    const runId = runIdForClientToken('hourly', 'schedule/hourly/every-hour/2026-11-24T11:00:00Z');
    const run = await handle.client.waitForRun(runId);
    expect(run).toMatchObject({ status: 'SUCCEEDED', job: 'hourly', result: { label: 'tick', runId } });
    expect(run.clientToken).toBe('schedule/hourly/every-hour/2026-11-24T11:00:00Z');

    const execution = await handle.stack.waitForExecution(tick?.executionArn ?? '');
    expect(execution.status).toBe('SUCCEEDED');
    // The next tick is an hour later.
    expect(handle.stack.scheduler?.upcoming().find((s) => s.job === 'hourly')?.next).toBe(
      '2026-11-24T12:00:00.000Z',
    );
  });

  it('starts one run for a tick delivered twice', async () => {
    const scheduler = handle.stack.scheduler;
    const schedule = hourly.schedules[0];
    if (!scheduler || !schedule) throw new Error('the stack has no scheduler');
    const tickAt = Date.parse('2026-11-24T12:00:00Z');
    const first = scheduler.fire(schedule, tickAt);
    const second = scheduler.fire(schedule, tickAt);
    // Two executions (Scheduler is at-least-once), one run: the run id comes from the tick's client token.
    expect(second.executionArn).not.toBe(first.executionArn);
    const runId = runIdForClientToken('hourly', 'schedule/hourly/every-hour/2026-11-24T12:00:00Z');
    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    for (const firing of [first, second]) {
      const execution = await handle.stack.waitForExecution(firing.executionArn ?? '');
      expect(execution.status).toBe('SUCCEEDED');
      expect(JSON.parse(execution.output ?? '{}')).toMatchObject({ runId, status: 'SUCCEEDED' });
    }
    const runs = (await handle.client.listRuns('hourly', 100)).filter((r) =>
      r.clientToken?.endsWith('12:00:00Z'),
    );
    expect(runs.map((r) => r.runId)).toEqual([runId]);
    const described = await handle.deps.aws.sfn.send(
      new DescribeExecutionCommand({ executionArn: first.executionArn }),
    );
    expect(JSON.parse(described.input ?? '{}')).toEqual({
      job: 'hourly',
      input: { label: 'tick' },
      clientToken: 'schedule/hourly/every-hour/2026-11-24T12:00:00Z',
    });
  });
});
