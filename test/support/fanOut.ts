import { expect } from 'vitest';
import { expectedSum } from '../../examples/fanout/job.ts';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import { EventType } from '../../lib/eventTypes.ts';
import type { RunRecord } from '../../lib/store/types.ts';
import { eventsOf, runToEnd, type StackHandle, statusCounts, stepsOf } from './stack.ts';

/**
 * Runs the `fanout` example of `n` items under whatever limits the stack emulates: it must
 * succeed with the right sum, every step SUCCEEDED, no STEP_FAILURE and nothing in a DLQ
 * (a throttle or a refusal absorbed, never a step's failure).
 */
export async function fanOutSucceeds(handle: StackHandle, n: number): Promise<RunRecord> {
  const run = await runToEnd(handle, 'fanout', { n });
  // The error first: a limit that reached a step or the run shows here, named.
  expect(run.error).toBeUndefined();
  expect(run).toMatchObject({ status: 'SUCCEEDED', result: { n, sum: expectedSum(n) } });
  expect(statusCounts(await stepsOf(handle, run.runId))).toEqual({ SUCCEEDED: n + 2 });
  const events = await eventsOf(handle, run.runId);
  expect(events.filter((e) => e.type === EventType.STEP_FAILURE)).toEqual([]);
  const queues = await new QueueInspector(handle.deps.aws.sqs, handle.deps.config.queues).stats();
  for (const queue of queues)
    expect({ queue: queue.name, dlq: queue.dlq?.visible }).toEqual({ queue: queue.name, dlq: 0 });
  return run;
}
