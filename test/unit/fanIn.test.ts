import { describe, expect, it } from 'vitest';
import { fanout } from '../../examples/fanout/job.ts';
import { initialSteps, type ReusePlan } from '../../lib/run/rerun.ts';
import { StepStatus } from '../../lib/status.ts';
import { FAN_IN_SHARD_SIZE, initialPending, isShardedFanIn, shardOf } from '../../lib/step/fanIn.ts';
import type { StepRecord } from '../../lib/store/types.ts';

const all = () => true;

describe('how a fan-in counts its upstream steps down', () => {
  it('counts on its own item up to one shard of upstream steps', () => {
    expect(isShardedFanIn(FAN_IN_SHARD_SIZE)).toBe(false);
    expect(initialPending('r', 'sum', FAN_IN_SHARD_SIZE, all)).toEqual({
      pending: FAN_IN_SHARD_SIZE,
      shards: [],
    });
    expect(initialPending('r', 'sum', 3, (i) => i !== 1)).toEqual({ pending: 2, shards: [] });
  });

  it('counts a wider one on shards of FAN_IN_SHARD_SIZE, its own item counting the shards', () => {
    const n = 2 * FAN_IN_SHARD_SIZE + 88;
    expect(isShardedFanIn(n)).toBe(true);
    expect(initialPending('r', 'sum', n, all)).toEqual({
      pending: 3,
      shards: [
        { runId: 'r', step: 'sum', shard: 0, pending: FAN_IN_SHARD_SIZE },
        { runId: 'r', step: 'sum', shard: 1, pending: FAN_IN_SHARD_SIZE },
        { runId: 'r', step: 'sum', shard: 2, pending: 88 },
      ],
    });
    expect([0, FAN_IN_SHARD_SIZE - 1, FAN_IN_SHARD_SIZE, n - 1].map(shardOf)).toEqual([0, 0, 1, 2]);
  });

  it('leaves out, in a rerun, a shard whose upstream steps are all reused', () => {
    const n = 2 * FAN_IN_SHARD_SIZE + 10;
    // Shard 0 fully reused, shard 1 has two steps to run, shard 2 all.
    const willRun = (i: number) =>
      i >= 2 * FAN_IN_SHARD_SIZE || i === FAN_IN_SHARD_SIZE || i === FAN_IN_SHARD_SIZE + 7;
    expect(initialPending('r', 'sum', n, willRun)).toEqual({
      pending: 2,
      shards: [
        { runId: 'r', step: 'sum', shard: 1, pending: 2 },
        { runId: 'r', step: 'sum', shard: 2, pending: 10 },
      ],
    });
  });

  it('starts a run of a wide fan-out with the shard items beside the steps', () => {
    const n = FAN_IN_SHARD_SIZE + 1;
    const plan = fanout.plan({ n });
    const { steps, shards, roots } = initialSteps('run', plan, '2026-01-01T00:00:00.000Z');
    expect(roots).toEqual(['plan']);
    expect(steps.find((s) => s.key === 'sum')).toMatchObject({ status: StepStatus.WAITING, pending: 2 });
    expect(shards.map((s) => [s.step, s.shard, s.pending])).toEqual([
      ['sum', 0, FAN_IN_SHARD_SIZE],
      ['sum', 1, 1],
    ]);
    // A rerun that reuses every square but the last waits for one shard of one step.
    const reused = new Map<string, StepRecord>(
      plan.order
        .filter((key) => key !== `square-${n - 1}` && key !== 'sum')
        .map((key) => [
          key,
          { runId: 'p', key, status: StepStatus.SUCCEEDED, attempt: 1, pending: 0, updatedAt: '' },
        ]),
    );
    const reuse: ReusePlan = { parentRunId: 'p', toRun: new Set([`square-${n - 1}`, 'sum']), reused };
    const rerun = initialSteps('child', plan, '2026-01-01T00:00:00.000Z', reuse);
    expect(rerun.steps.find((s) => s.key === 'sum')?.pending).toBe(1);
    expect(rerun.shards).toEqual([{ runId: 'child', step: 'sum', shard: 1, pending: 1 }]);
  });
});
