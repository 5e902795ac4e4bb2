import { describe, expect, it } from 'vitest';
import { EventSourceRamp } from '../../local/limits/eventSourceRamp.ts';

function ramp(start: number, perMinute: number, maximum: number) {
  let now = 0;
  const r = new EventSourceRamp({ start, perMinute, maximum, now: () => now });
  return { ramp: r, advance: (ms: number) => (now += ms) };
}

describe('EventSourceRamp', () => {
  it("runs `start` pollers until messages appear, then adds perMinute a minute up to the maximum (AWS's 5, +300)", () => {
    const { ramp: r, advance } = ramp(5, 300, 1_000);
    expect(r.allowed()).toBe(5);
    advance(60_000);
    expect(r.allowed()).toBe(5); // an idle queue does not ramp
    r.begin();
    advance(30_000);
    expect(r.allowed()).toBe(155);
    advance(30_000);
    expect(r.allowed()).toBe(305);
    // 5 + 300 x 3.3 minutes: the maximum after about 3 minutes 20 s, and no further.
    advance(140_000);
    expect(r.allowed()).toBe(1_000);
    advance(600_000);
    expect(r.allowed()).toBe(1_000);
  });

  it('scales the start and the rate down, at least one poller (scale 10: 1, then 30 a minute)', () => {
    const r = EventSourceRamp.scaled(10, 8);
    expect(r.allowed()).toBe(1);
    expect(EventSourceRamp.scaled(1, 1_000).allowed()).toBe(5);
    expect(EventSourceRamp.scaled(1, 2).allowed()).toBe(2); // never above the mapping's maximum
  });

  it('lets a poller run when the ramp reaches it, and records each level with the busiest invocations', async () => {
    // 600 a minute: one more poller every 100 ms of (real) time.
    const r = new EventSourceRamp({ start: 1, perMinute: 600, maximum: 3 });
    const signal = new AbortController().signal;
    expect(await r.waitFor(0, signal)).toBe(true);
    r.invoked(1);
    const second = r.waitFor(1, signal);
    const third = r.waitFor(2, signal);
    r.begin();
    expect(await second).toBe(true);
    r.invoked(2);
    expect(await third).toBe(true);
    r.invoked(3);
    const levels = r.series();
    expect(levels.map((l) => l.pollers)).toEqual([1, 2, 3]);
    expect(levels.map((l) => l.busiest)).toEqual([1, 2, 3]);
    // Each level came after the one before it (recorded times, not asserted durations).
    expect(levels[1]?.atMs).toBeLessThanOrEqual(levels[2]?.atMs ?? -1);
  });

  it('stops a waiting poller when the event source stops', async () => {
    const r = new EventSourceRamp({ start: 1, perMinute: 1, maximum: 2 });
    const stop = new AbortController();
    const waiting = r.waitFor(1, stop.signal);
    stop.abort();
    expect(await waiting).toBe(false);
  });
});
