import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, Jitter, retryDelaySeconds } from '../../lib/backoff.ts';

describe('retry delay (exponential backoff, full jitter)', () => {
  it('grows as base * 2^(attempt-1) at the top of the jitter', () => {
    const top = () => 1;
    expect([1, 2, 3, 4].map((a) => retryDelaySeconds(a, { baseSeconds: 2, maxSeconds: 1000 }, top))).toEqual([
      2, 4, 8, 16,
    ]);
  });

  it('is capped by maxSeconds', () => {
    expect(retryDelaySeconds(20, { baseSeconds: 1, maxSeconds: 60 }, () => 1)).toBe(60);
  });

  it('can be anything from zero up to the ceiling', () => {
    expect(retryDelaySeconds(5, { baseSeconds: 1, maxSeconds: 300 }, () => 0)).toBe(0);
    expect(retryDelaySeconds(5, { baseSeconds: 1, maxSeconds: 300 }, () => 0.5)).toBe(8);
  });
});

describe('backoffDelay (the one backoff)', () => {
  const policy = { base: 100, cap: 2_000 };

  it('doubles its ceiling with each try up to the cap, with full jitter by default', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(n, policy))).toEqual([
      100, 200, 400, 800, 1_600, 2_000,
    ]);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.25)).toBe(100);
  });

  it('keeps at least half the ceiling with half jitter', () => {
    const half = { ...policy, jitter: Jitter.HALF };
    expect(backoffDelay(3, half, () => 0)).toBe(200);
    expect(backoffDelay(3, half, () => 1)).toBe(400);
    expect(backoffDelay(30, half, () => 0.5)).toBe(1_500);
  });

  it('treats try 0 (or less) as the first', () => {
    expect(backoffCeiling(0, policy)).toBe(100);
  });

  it('uses Math.random when no random is given, staying within the ceiling', () => {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(4, policy);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });
});
