import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import { MAX_LOST_WORKERS } from '../../lib/step/runner.ts';
import { eventsOf, runToEnd, StepStatus, stepsOf, useStack } from '../support/stack.ts';

class WorkerKilled extends Error {
  override readonly name = 'WorkerKilled';
}

/** Bodies of step b started, across deliveries. */
let bodiesOfB = 0;

// Every delivery of diamond's step b "dies" after running its body, before recording: what
// a Lambda killed by its timeout or out of memory looks like to the next delivery.
const handle = useStack({
  visibilityTimeoutSeconds: 1,
  hooks: {
    beforeRecord(message) {
      if (message.job !== 'diamond' || message.step !== 'b') return;
      bodiesOfB++;
      throw new WorkerKilled(`worker running ${message.step} attempt ${message.attempt} was killed`);
    },
  },
});

describe('a step whose worker keeps dying', () => {
  it('fails with WorkerLostError after MAX_LOST_WORKERS lost workers, not redelivered forever', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 1 });
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'b', code: 'WORKER_LOST' });
    expect(run.error?.message).toContain('the worker died 3 times');

    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('b')).toMatchObject({ status: StepStatus.FAILED, attempt: 1 });
    expect(steps.get('c')?.status).toBe(StepStatus.SUCCEEDED);
    expect(steps.get('d')?.status).toBe(StepStatus.SKIPPED);

    // One body per delivery: the first, then one per lost worker; the last delivery fails
    // the attempt before running the body again.
    expect(bodiesOfB).toBe(MAX_LOST_WORKERS);
    const lost = (await eventsOf(handle, run.runId)).filter((e) => e.type === EventType.STEP_WORKER_LOST);
    expect(lost.map((e) => e.data?.lostWorkers)).toEqual([1, 2, 3]);
  });
});
