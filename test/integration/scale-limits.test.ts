import { describe, expect, it } from 'vitest';
import { expectedSum } from '../../examples/fanout/job.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { runPk } from '../../lib/store/keys.ts';
import { eventsOf, runToEnd, statusCounts, stepsOf, useStack } from '../support/stack.ts';

// AWS's 1,000 write units a second per partition key, scaled down 10 times: 100 a second.
const handle = useStack({ limits: { scale: 10 }, concurrency: 8 });

describe('DynamoDB partition write limits, scaled down', () => {
  it("reproduces today's hot spot: a fan-out throttles its run's partition key, the run counter among it, and still succeeds", async () => {
    const n = 200;
    const run = await runToEnd(handle, 'fanout', { n });
    // The error first: a throttle that reached a step or the run shows here, named.
    expect(run.error).toBeUndefined();
    expect(run).toMatchObject({ status: 'SUCCEEDED', result: { n, sum: expectedSum(n) } });

    const throttled = handle.stack.partitionWriteLimits?.throttled() ?? [];
    const runTable = handle.stack.env.LAMBDAG_RUNS_TABLE;
    const onRun = throttled.filter((t) => t.table === runTable && t.partitionKey === runPk(run.runId));
    // The hot key is the run's: every step, event, fan-in shard and the counter share it.
    expect(onRun.reduce((sum, t) => sum + t.throttled, 0)).toBeGreaterThan(0);
    expect(throttled[0]?.partitionKey).toBe(runPk(run.runId));
    // The run item (the counter every batch updates) is one of the throttled items.
    expect(onRun.map((t) => t.item)).toContain('RUN');

    // No throttle reached a step as a failure: the SDK's and lambdag's retries absorbed them.
    const steps = await stepsOf(handle, run.runId);
    expect(statusCounts(steps)).toEqual({ SUCCEEDED: n + 2 });
    const events = await eventsOf(handle, run.runId);
    expect(events.filter((e) => e.type === EventType.STEP_FAILURE)).toEqual([]);
  }, 180_000);
});
