import { describe, expect, it } from 'vitest';
import { diamond } from '../../examples/diamond/job.ts';
import { attemptsOf } from '../../lib/client/runViews.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import type { RunEvent, RunRecord, StepRecord } from '../../lib/store/types.ts';

const run = { runId: 'r', job: 'diamond', status: RunStatus.RUNNING, createdAt: 't00' } as RunRecord;
const event = (at: string, type: EventType, step: string, attempt: number, data?: object): RunEvent =>
  ({ runId: 'r', at, type, step, attempt, ...(data ? { data } : {}) }) as RunEvent;

describe('the attempts of a run, for its timeline', () => {
  it('queue a first attempt from its last upstream step’s success, a retry from the retry, each its own bar', () => {
    const events = [
      event('t01', EventType.STEP_START, 'a', 1),
      event('t02', EventType.STEP_SUCCESS, 'a', 1),
      event('t03', EventType.STEP_START, 'b', 1),
      event('t04', EventType.STEP_RETRY, 'b', 1, { error: { name: 'Error', message: 'boom' } }),
      event('t06', EventType.STEP_START, 'b', 2),
      event('t07', EventType.STEP_SUCCESS, 'b', 2),
    ];
    const attempts = attemptsOf(run, events, diamond.plan({ x: 1 }), new Map());
    expect(attempts).toEqual([
      {
        step: 'a',
        attempt: 1,
        queuedAt: 't00',
        startedAt: 't01',
        endedAt: 't02',
        outcome: 'SUCCEEDED',
        ecs: false,
      },
      {
        step: 'b',
        attempt: 1,
        queuedAt: 't02',
        startedAt: 't03',
        endedAt: 't04',
        outcome: 'RETRIED',
        error: { name: 'Error', message: 'boom' },
        ecs: false,
      },
      {
        step: 'b',
        attempt: 2,
        queuedAt: 't04',
        startedAt: 't06',
        endedAt: 't07',
        outcome: 'SUCCEEDED',
        ecs: false,
      },
    ]);
  });

  it('mark the attempts that ran on ECS: from a promotion on, or the one that claimed a task', () => {
    const events = [
      event('t01', EventType.STEP_START, 'a', 1),
      event('t02', EventType.STEP_PROMOTED, 'a', 1),
      event('t03', EventType.STEP_START, 'a', 2),
      event('t04', EventType.STEP_SUCCESS, 'a', 2),
      event('t05', EventType.STEP_START, 'b', 1),
    ];
    const steps = new Map([
      ['b', { key: 'b', status: StepStatus.RUNNING, attempt: 1, taskArn: 'arn:task/1' } as StepRecord],
    ]);
    const attempts = attemptsOf(run, events, diamond.plan({ x: 1 }), steps);
    expect(attempts.map((a) => [a.step, a.attempt, a.ecs, a.outcome, a.queuedAt])).toEqual([
      ['a', 1, false, 'PROMOTED', 't00'],
      ['a', 2, true, 'SUCCEEDED', 't02'],
      ['b', 1, true, 'RUNNING', 't04'],
    ]);
  });
});
