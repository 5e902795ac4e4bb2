import { EventType } from '../eventTypes.ts';
import { TTL_ATTRIBUTE } from '../run/retention.ts';
import type { RunExpiry } from './runStore.ts';
import type { RunEvent, RunRecord, StepRecord } from './types.ts';

/**
 * Items of the runs table and the records the store returns for them, the same for every
 * RunStore implementation: what an item holds besides its record (keys, the TTL, fan-in
 * bookkeeping) is dropped here.
 */
export type Item = Record<string, unknown>;

function strip(item: Item): Item {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ...rest } = item;
  return rest;
}

/** The TTL attribute of an item created for a run (none when the run has no expiry). */
export function ttlOf(expiresAt: RunExpiry): Item {
  return expiresAt === undefined ? {} : { [TTL_ATTRIBUTE]: expiresAt };
}

/** A step's or an event's record: the TTL is the run's, shown on the run record only. */
function stripItem(item: Item): Item {
  const { [TTL_ATTRIBUTE]: _ttl, ...rest } = strip(item);
  return rest;
}

export const toRun = (item: Item): RunRecord => {
  // `mapsCounted` (countMapItems) and `errorAt` (addRunCounts) are bookkeeping, not the record.
  const { tasks, mapsCounted: _maps, errorAt: _errorAt, ...run } = strip(item);
  // A string set comes back as a Set: the record holds a plain array.
  return (tasks instanceof Set ? { ...run, tasks: [...tasks] } : run) as unknown as RunRecord;
};

/** `resolvedBy` is bookkeeping of resolveDependency, not part of a step's record. */
export const toStep = (item: Item): StepRecord => {
  const { resolvedBy: _resolvedBy, ...step } = stripItem(item);
  return step as unknown as StepRecord;
};

/** An event item's events: its attempt's STEP_START first when the item stands for it too (prepareEvent). */
export function eventsOf(item: Item): RunEvent[] {
  const { startedAt, ...rest } = stripItem(item);
  const event = rest as unknown as RunEvent;
  if (typeof startedAt !== 'string') return [event];
  const start: RunEvent = {
    runId: event.runId,
    type: EventType.STEP_START,
    at: startedAt,
    ...(event.step === undefined ? {} : { step: event.step }),
    ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
  };
  return [start, event];
}
