import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import { eventsOf, runToEnd, StepStatus, stepsOf, until, useStack } from '../support/stack.ts';

// Every step message is sent twice, and every first delivery's worker "dies" before SQS
// deletes it: an ECS step gets several deliveries, and so several tasks.
const handle = useStack({
  visibilityTimeoutSeconds: 2,
  faults: {
    duplicateSends: true,
    crashAfterHandler: (record) => record.attributes.ApproximateReceiveCount === '1',
  },
});

describe('an ECS step delivered more than once', () => {
  it('may start more than one task, but runs its body once and records one result', async () => {
    const before = handle.stack.ecs.list().length;
    const run = await runToEnd(handle, 'long', { chunks: 3, chunkMs: 300 });
    expect(run.status).toBe('SUCCEEDED');
    expect((run.result as { total: number }).total).toBe(6);

    const crunch = (await stepsOf(handle, run.runId)).get('crunch');
    expect(crunch).toMatchObject({ status: StepStatus.SUCCEEDED, attempt: 1 });
    const events = (await eventsOf(handle, run.runId)).filter((e) => e.step === 'crunch');
    // One body ran: one start, one success, no retry and no lost task.
    expect(events.filter((e) => e.type === EventType.STEP_START)).toHaveLength(1);
    expect(events.filter((e) => e.type === EventType.STEP_SUCCESS)).toHaveLength(1);
    expect(events.some((e) => e.type === EventType.STEP_RETRY || e.type === EventType.STEP_TASK_LOST)).toBe(
      false,
    );
    // It was sent twice (and its first delivery redelivered); the copies that found it
    // QUEUED each started a task (2 in every run seen here; timing decides).
    expect(handle.stack.faults.sends(run.runId, 'crunch')).toBeGreaterThanOrEqual(2);
    const tasks = handle.stack.ecs.list().slice(before);
    expect(tasks.length).toBeGreaterThanOrEqual(1);
    expect(tasks.some((t) => t.taskArn === crunch?.taskArn)).toBe(true);
    // Each task settles its entry on the run as it exits, which may be just after the run
    // ends (the run ends on its counts): no entry is left once they have.
    await until('the tasks to settle their entries', async () =>
      ((await handle.deps.store.requireRun(run.runId)).tasks ?? []).length === 0 ? true : undefined,
    );
  }, 90_000);
});
