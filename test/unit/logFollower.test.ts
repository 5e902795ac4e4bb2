import { describe, expect, it } from 'vitest';
import { END_EVENT_GRACE_MS, LogFollower } from '../../lib/client/logFollower.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { RunStatus } from '../../lib/status.ts';
import type { RunEvent } from '../../lib/store/types.ts';

const event = (type: string) => ({ runId: 'r', type, at: new Date(0).toISOString() }) as RunEvent;

describe('following a run’s log', () => {
  it('goes on while the run runs, and past its final status until its end event is read', () => {
    const clock = { now: 0 };
    const log = new LogFollower(() => clock.now);
    log.saw([event(EventType.RUN_START), event(EventType.STEP_SUCCESS)]);
    expect(log.done(RunStatus.RUNNING)).toBe(false);
    // The status is written a moment before the event: not done yet.
    expect(log.done(RunStatus.SUCCEEDED)).toBe(false);
    clock.now += 500;
    log.saw([event(EventType.RUN_SUCCESS)]);
    expect(log.done(RunStatus.SUCCEEDED)).toBe(true);
  });

  it('matches the end event to the status (a failed run ends with RUN_FAILURE)', () => {
    const log = new LogFollower(() => 0);
    log.saw([event(EventType.RUN_SUCCESS)]);
    expect(log.done(RunStatus.FAILED)).toBe(false);
    log.saw([event(EventType.RUN_FAILURE)]);
    expect(log.done(RunStatus.FAILED)).toBe(true);
  });

  it('stops after the grace when a final run never writes an end event', () => {
    const clock = { now: 0 };
    const log = new LogFollower(() => clock.now);
    expect(log.done(RunStatus.CANCELED)).toBe(false);
    clock.now += END_EVENT_GRACE_MS - 1;
    expect(log.done(RunStatus.CANCELED)).toBe(false);
    clock.now += 1;
    expect(log.done(RunStatus.CANCELED)).toBe(true);
  });
});
