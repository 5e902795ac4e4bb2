import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import type { RunEvent } from '../../lib/store/types.ts';
import { AttemptCrashes, attemptSpans, peakRunning } from '../../local/simulation/keyedLimits.ts';

const at = (ms: number) => new Date(ms).toISOString();
const event = (type: EventType, step: string, attempt: number, ms: number) =>
  ({ runId: 'r', type, step, attempt, at: at(ms), id: `${ms}` }) as unknown as RunEvent;

describe('the keyed-limit audit’s attempt spans', () => {
  it('pairs a start with its outcome, or with the attempt’s next start when its worker died', () => {
    const spans = attemptSpans('r', [
      event(EventType.STEP_START, 'a', 1, 0),
      event(EventType.STEP_START, 'b', 1, 10),
      event(EventType.STEP_SUCCESS, 'a', 1, 50),
      event(EventType.STEP_START, 'b', 1, 100),
      event(EventType.STEP_SUCCESS, 'b', 1, 150),
    ]);
    expect(spans.map((s) => [s.step, s.start, s.end])).toEqual([
      ['a', 0, 50],
      ['b', 10, 100],
      ['b', 100, 150],
    ]);
    expect(peakRunning(spans)).toBe(2);
  });

  it('ends a span at a simulated crash inside it, which gave its slot back there', () => {
    const crashes = new AttemptCrashes();
    crashes.note({ runId: 'r', step: 'b', attempt: 1 }, 20);
    const events = [
      event(EventType.STEP_START, 'b', 1, 10),
      event(EventType.STEP_START, 'a', 1, 30),
      event(EventType.STEP_SUCCESS, 'a', 1, 90),
      event(EventType.STEP_START, 'b', 1, 100),
      event(EventType.STEP_SUCCESS, 'b', 1, 150),
    ];
    const spans = attemptSpans('r', events).map((span) => crashes.cut(span));
    expect(spans.map((s) => [s.step, s.start, s.end]).sort((x, y) => Number(x[1]) - Number(y[1]))).toEqual([
      ['b', 10, 20],
      ['a', 30, 90],
      ['b', 100, 150],
    ]);
    expect(peakRunning(spans)).toBe(1);
    // Uncut, b's dead first attempt would seem to run beside a until b's redelivery.
    expect(peakRunning(attemptSpans('r', events))).toBe(2);
  });
});
