import { describe, expect, it } from 'vitest';
import { stepsTable } from '../../cli/format.ts';
import { isRoutineItemEvent } from '../../cli/mapRows.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { StepStatus } from '../../lib/status.ts';
import type { StepRecord } from '../../lib/store/types.ts';

const at = '2026-01-01T00:00:00.000Z';
const step = (key: string, status: StepStatus, extra: Partial<StepRecord> = {}): StepRecord => ({
  runId: 'r',
  key,
  status,
  attempt: 1,
  pending: 0,
  updatedAt: at,
  ...extra,
});
const item = (i: number, status: StepStatus) =>
  step(`double[${i}]`, status, { item: { map: 'double', index: i, count: 4 } });
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
const plain = (text: string) => text.replace(/\u001b\[\d+m/g, '');

describe('map steps in lambdag status and logs', () => {
  const steps = [
    step('collect', StepStatus.WAITING),
    step('double', StepStatus.RUNNING, { map: { items: 4, running: 4, written: 4, dispatched: 4 } }),
    item(0, StepStatus.SUCCEEDED),
    item(1, StepStatus.SUCCEEDED),
    item(2, StepStatus.FAILED),
    item(3, StepStatus.RUNNING),
    step('list', StepStatus.SUCCEEDED),
  ];

  it('shows a map as one row counting its items by status, and its items only when asked', () => {
    const table = plain(stepsTable(steps));
    expect(table).toMatch(/double\s+RUNNING\s+1\s+4 items: 2 succeeded · 1 failed · 1 running/);
    expect(table).not.toContain('double[0]');
    expect(plain(stepsTable(steps, { items: true }))).toMatch(/double\[2\]\s+FAILED/);
  });

  it('leaves map items’ starts and successes out of the log, not their failures', () => {
    const event = (type: EventType, step: string) => ({ runId: 'r', at, type, step });
    expect(isRoutineItemEvent(event(EventType.STEP_SUCCESS, 'double[3]'))).toBe(true);
    expect(isRoutineItemEvent(event(EventType.STEP_START, 'double[3]'))).toBe(true);
    expect(isRoutineItemEvent(event(EventType.STEP_FAILURE, 'double[3]'))).toBe(false);
    expect(isRoutineItemEvent(event(EventType.STEP_SUCCESS, 'double'))).toBe(false);
  });
});
