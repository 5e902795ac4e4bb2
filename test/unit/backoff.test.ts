import { describe, expect, it } from 'vitest';
import { retryDelaySeconds } from '../../lib/backoff.ts';

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
