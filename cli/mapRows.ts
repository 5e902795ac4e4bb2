import { EventType } from '../lib/eventTypes.ts';
import { mapOfItem } from '../lib/job/mapStep.ts';
import type { RunEvent, StepRecord } from '../lib/store/types.ts';

/**
 * Map steps in `lambdag status` and `lambdag logs`: a map of 100,000 items is one row with
 * its items counted by status, and its items' routine events (start, success) are left out
 * of the log; `--items` shows them all.
 */

/** A map's items counted by status, keyed by map step. */
export function itemCountsByMap(steps: readonly StepRecord[]): Map<string, Record<string, number>> {
  const byMap = new Map<string, Record<string, number>>();
  for (const step of steps) {
    if (!step.item) continue;
    const counts = byMap.get(step.item.map) ?? {};
    counts[step.status] = (counts[step.status] ?? 0) + 1;
    byMap.set(step.item.map, counts);
  }
  return byMap;
}

/** `1000 items: 990 succeeded · 2 failed · 8 running`, statuses in a fixed order. */
export function itemCountsLine(items: number, counts: Readonly<Record<string, number>>): string {
  const order = ['SUCCEEDED', 'FAILED', 'RUNNING', 'QUEUED', 'WAITING', 'CANCELED', 'SKIPPED'];
  const parts = order.filter((status) => counts[status]).map((s) => `${counts[s]} ${s.toLowerCase()}`);
  return `${items} item${items === 1 ? '' : 's'}${parts.length ? `: ${parts.join(' · ')}` : ''}`;
}

/** The rows `lambdag status` shows: every step but map items, unless `items`. */
export function visibleSteps(steps: readonly StepRecord[], items: boolean): StepRecord[] {
  return items ? [...steps] : steps.filter((step) => !step.item);
}

/** Whether `lambdag logs` leaves this event out without `--items`: a map item's start or success. */
export function isRoutineItemEvent(event: RunEvent): boolean {
  if (event.step === undefined || mapOfItem(event.step) === undefined) return false;
  return event.type === EventType.STEP_START || event.type === EventType.STEP_SUCCESS;
}
