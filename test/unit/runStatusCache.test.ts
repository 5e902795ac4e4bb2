import { describe, expect, it } from 'vitest';
import { RunStatusCache } from '../../lib/run/runStatusCache.ts';
import { RunStatus } from '../../lib/status.ts';

describe('RunStatusCache', () => {
  it('answers with a status seen within its window, and forgets it after', () => {
    let now = 10_000;
    const cache = new RunStatusCache(1_000, () => now);
    expect(cache.fresh('r1')).toBeUndefined();
    cache.note('r1', RunStatus.RUNNING);
    now += 1_000;
    expect(cache.fresh('r1')).toBe(RunStatus.RUNNING);
    cache.note('r1', RunStatus.CANCELING);
    expect(cache.fresh('r1')).toBe(RunStatus.CANCELING);
    now += 1_001;
    expect(cache.fresh('r1')).toBeUndefined();
  });

  it('ignores an unknown status and keeps runs apart', () => {
    const cache = new RunStatusCache(1_000, () => 0);
    cache.note('r1', undefined);
    cache.note('r2', RunStatus.RUNNING);
    expect(cache.fresh('r1')).toBeUndefined();
    expect(cache.fresh('r2')).toBe(RunStatus.RUNNING);
  });

  it('drops stale entries once it holds many runs', () => {
    let now = 0;
    const cache = new RunStatusCache(1_000, () => now);
    for (let i = 0; i < 1_000; i++) cache.note(`old${i}`, RunStatus.RUNNING);
    now = 5_000;
    cache.note('new', RunStatus.RUNNING);
    expect((cache as unknown as { known: Map<string, unknown> }).known.size).toBe(1);
  });
});
