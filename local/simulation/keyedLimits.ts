import { EventType } from '../../lib/eventTypes.ts';
import type { SlotLease, SlotStore } from '../../lib/store/slotStore.ts';
import type { RunEvent } from '../../lib/store/types.ts';

/**
 * The keyed-concurrency audit (docs/concurrency.md), shared by `lambdag simulate` and the
 * tests: from runs' events, how many attempts of a key ran at once at most; from the slot
 * store, which leases are still held when nothing should run.
 */

/** Events that end an attempt's running (its body is over, whatever came of it). */
const ATTEMPT_ENDS: ReadonlySet<string> = new Set([
  EventType.STEP_SUCCESS,
  EventType.STEP_FAILURE,
  EventType.STEP_RETRY,
  EventType.STEP_CANCELED,
  EventType.STEP_PROMOTED,
]);

/** One attempt's running, from its STEP_START to its outcome (epoch ms). */
export interface AttemptSpan {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly start: number;
  readonly end: number;
}

/**
 * A run's attempt spans: each STEP_START paired with the next outcome of the same attempt,
 * or with its next STEP_START (a worker that died mid-attempt stopped running there). A
 * start with neither (a run still going) is left out.
 */
export function attemptSpans(runId: string, events: readonly RunEvent[]): AttemptSpan[] {
  const open = new Map<string, number>();
  const spans: AttemptSpan[] = [];
  for (const event of events) {
    if (event.step === undefined || event.attempt === undefined) continue;
    const id = `${event.step}\u0000${event.attempt}`;
    const at = Date.parse(event.at);
    const started = open.get(id);
    const ends = event.type === EventType.STEP_START || ATTEMPT_ENDS.has(event.type);
    if (started !== undefined && ends) {
      spans.push({ runId, step: event.step, attempt: event.attempt, start: started, end: at });
      open.delete(id);
    }
    if (event.type === EventType.STEP_START) open.set(id, at);
  }
  return spans;
}

/**
 * The most spans running at one time. An end at the same millisecond as a start counts
 * first: a slot is given back before the next attempt can take it.
 */
export function peakRunning(spans: readonly AttemptSpan[]): number {
  const edges = spans.flatMap((span) => [
    { at: span.start, delta: 1 },
    { at: span.end, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let peak = 0;
  for (const edge of edges) {
    running += edge.delta;
    peak = Math.max(peak, running);
  }
  return peak;
}

/** Leases still held (not expired) on these keys: after every run has ended, a leak. */
export async function heldLeases(
  slots: SlotStore,
  keys: readonly string[],
  now = Date.now(),
): Promise<SlotLease[]> {
  const reads = await Promise.all(keys.map((key) => slots.readSlots(key)));
  return reads.flatMap((read) => read.leases.filter((lease) => lease.until > now));
}
