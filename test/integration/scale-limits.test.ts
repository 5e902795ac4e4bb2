import { describe, expect, it } from 'vitest';
import { RunLayout, runPk } from '../../lib/store/keys.ts';
import type { ThrottleCount } from '../../local/limits/partitionWriteLimits.ts';
import { fanOutSucceeds } from '../support/fanOut.ts';
import { type StackHandle, useStack } from '../support/stack.ts';

// AWS's 1,000 write units a second per partition key, scaled down 10 times: 100 a second.
const LIMITS = { limits: { scale: 10 }, concurrency: 8 } as const;
const N = 200;

/** The fan-out under the scaled limits, and the throttled writes of its run's items. */
async function fanOutUnderLimit(handle: StackHandle) {
  const run = await fanOutSucceeds(handle, N);
  const runTable = handle.stack.env.LAMBDAG_RUNS_TABLE;
  const throttled = (handle.stack.partitionWriteLimits?.throttled() ?? []).filter(
    (t) => t.table === runTable && t.partitionKey.startsWith(runPk(run.runId)),
  );
  return { run, throttled };
}

const total = (items: readonly ThrottleCount[]) => items.reduce((sum, t) => sum + t.throttled, 0);

describe('DynamoDB partition write limits, scaled down: one partition key per run (the layout before)', () => {
  const handle = useStack({ ...LIMITS, functionEnvironment: { LAMBDAG_RUN_PARTITIONS: '1' } });

  it('a fan-out throttles its one partition key, and still succeeds', async () => {
    const { run, throttled } = await fanOutUnderLimit(handle);
    // Every step, event, fan-in shard and the counter share the key: it is the hot one, and
    // the only one (which of its items a throttle falls on is whichever write finds it spent).
    const hotKey = new RunLayout(1).partitionPk(run.runId, 0);
    expect(total(throttled)).toBeGreaterThan(0);
    expect(new Set(throttled.map((t) => t.partitionKey))).toEqual(new Set([hotKey]));
  }, 180_000);
});

describe('DynamoDB partition write limits, scaled down: a run spread over 16 partition keys', () => {
  const handle = useStack(LIMITS);

  it('the same fan-out is not throttled: no key of the run, and no counter item, takes more than its limit', async () => {
    const { throttled } = await fanOutUnderLimit(handle);
    expect(throttled).toEqual([]);
  }, 180_000);
});
