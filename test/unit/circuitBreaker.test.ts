import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../lib/aws/circuitBreaker.ts';

function breakerAt(clock: { now: number }) {
  return new CircuitBreaker({
    failureThreshold: 3,
    baseCooldownMs: 1_000,
    maxCooldownMs: 8_000,
    random: () => 1,
    now: () => clock.now,
  });
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and when successes interleave', () => {
    const clock = { now: 0 };
    const breaker = breakerAt(clock);
    breaker.transientFailure();
    breaker.transientFailure();
    breaker.success();
    breaker.transientFailure();
    breaker.transientFailure();
    expect(breaker.blockedForMs()).toBeUndefined();
    expect(breaker.isOpen).toBe(false);
  });

  it('opens after the threshold, lets one probe through after the cool-down, closes on its success', () => {
    const clock = { now: 0 };
    const breaker = breakerAt(clock);
    for (let i = 0; i < 3; i++) breaker.transientFailure();
    expect(breaker.isOpen).toBe(true);
    expect(breaker.blockedForMs()).toBe(1_000);
    clock.now = 1_000;
    expect(breaker.blockedForMs()).toBeUndefined(); // the probe
    expect(breaker.blockedForMs()).toBe(1_000); // others wait for it
    breaker.success();
    expect(breaker.blockedForMs()).toBeUndefined();
    expect(breaker.blockedForMs()).toBeUndefined();
  });

  it('reopens for longer when the probe fails, up to the cap', () => {
    const clock = { now: 0 };
    const breaker = breakerAt(clock);
    for (let i = 0; i < 3; i++) breaker.transientFailure();
    const cooldowns: number[] = [];
    for (let opening = 0; opening < 5; opening++) {
      const blocked = breaker.blockedForMs() as number;
      cooldowns.push(blocked);
      clock.now += blocked;
      expect(breaker.blockedForMs()).toBeUndefined();
      breaker.transientFailure();
    }
    expect(cooldowns).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
  });

  it('jitters the cool-down between half and all of it', () => {
    const clock = { now: 0 };
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      baseCooldownMs: 1_000,
      maxCooldownMs: 1_000,
      random: () => 0,
      now: () => clock.now,
    });
    breaker.transientFailure();
    expect(breaker.blockedForMs()).toBe(500);
  });
});
