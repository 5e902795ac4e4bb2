import { describe, expect, it } from 'vitest';
import { currentPolicy, DEPLOYED_WATCH, replayPolls, resetOnProgressPolicy } from '../../bench/pollModel.ts';
import { MAX_WAIT_SECONDS, nextWaitSeconds } from '../../lib/run/pollPolicy.ts';

/** `n` steps finishing evenly over `seconds`. */
const steady = (n: number, seconds: number) => Array.from({ length: n }, (_, i) => ((i + 1) * seconds) / n);

describe("PollRun's wait", () => {
  it('doubles up to the cap while nothing happens, and stays at least the minimum', () => {
    expect(nextWaitSeconds(1)).toBe(2);
    expect(nextWaitSeconds(16)).toBe(MAX_WAIT_SECONDS);
    expect(nextWaitSeconds(MAX_WAIT_SECONDS)).toBe(MAX_WAIT_SECONDS);
    expect(nextWaitSeconds(0)).toBe(1);
  });

  it('does not wait past the run’s estimated end at its current pace', () => {
    expect(nextWaitSeconds(16, { remaining: 100, perSecond: 20 })).toBe(5);
    expect(nextWaitSeconds(2, { remaining: 10_000, perSecond: 20 })).toBe(4);
    expect(nextWaitSeconds(8, { remaining: 1, perSecond: 50 })).toBe(1);
  });
});

describe('the poll loop replayed on a steady run', () => {
  it('polls a 10-minute run of 10,000 steps about as often as one of 100 steps, and far less than before', () => {
    const many = replayPolls(steady(10_000, 600), currentPolicy);
    const few = replayPolls(steady(100, 600), currentPolicy);
    const before = replayPolls(steady(10_000, 600), resetOnProgressPolicy);
    // log2(30) ticks to reach the cap, then one every 30 s, then the approach to the end.
    expect(many.polls).toBeLessThanOrEqual(40);
    expect(Math.abs(many.polls - few.polls)).toBeLessThanOrEqual(3);
    expect(before.polls).toBeGreaterThanOrEqual(590);
    expect(many.detectionDelaySeconds).toBeLessThanOrEqual(2);
  });

  it('sees a short run end within a second or two', () => {
    const replay = replayPolls(steady(20, 3), currentPolicy);
    expect(replay.detectionDelaySeconds).toBeLessThanOrEqual(2);
    expect(replay.polls).toBeLessThanOrEqual(4);
  });
});

describe('PollRun watching a run itself', () => {
  it('sees a run of up to 15 s end in its first invocation: 8 transitions, within a look', () => {
    // Ended before the first poll (after the 1 s Wait): seen there, nothing watched.
    expect(replayPolls(steady(4, 0.4), currentPolicy, DEPLOYED_WATCH)).toMatchObject({
      polls: 1,
      transitions: 8,
      watchedSeconds: 0,
    });
    for (const seconds of [3, 12]) {
      const watched = replayPolls(steady(20, seconds), currentPolicy, DEPLOYED_WATCH);
      expect(watched.polls).toBe(1);
      expect(watched.transitions).toBe(8);
      expect(watched.detectionDelaySeconds).toBeLessThanOrEqual(DEPLOYED_WATCH.checkSeconds);
      // It watched from the first poll (after the 1 s Wait) to the end, and no longer.
      expect(watched.watchedSeconds).toBeLessThanOrEqual(seconds - 1 + DEPLOYED_WATCH.checkSeconds);
    }
    const unwatched = replayPolls(steady(20, 12), currentPolicy);
    expect(unwatched.polls).toBeGreaterThanOrEqual(3);
    expect(unwatched.watchedSeconds).toBe(0);
  });

  it('saves a long run the polls of its first 15 s, and waits no longer than asked', () => {
    const long = steady(10_000, 600);
    const watched = replayPolls(long, currentPolicy, DEPLOYED_WATCH);
    const unwatched = replayPolls(long, currentPolicy);
    expect(unwatched.polls - watched.polls).toBeGreaterThanOrEqual(3);
    // Watching replaces waits: at most the budget per invocation, never the whole run.
    expect(watched.watchedSeconds).toBeLessThanOrEqual(watched.polls * DEPLOYED_WATCH.watchSeconds);
    expect(watched.detectionDelaySeconds).toBeLessThanOrEqual(2);
  });
});
