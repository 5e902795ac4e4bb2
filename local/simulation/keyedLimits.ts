import type { Deps } from '../../lib/deps.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { concurrencyOf } from '../../lib/job/concurrency.ts';
import { isMapStep, stepSpecOf } from '../../lib/job/dag.ts';
import type { SlotLease, SlotStore } from '../../lib/store/slotStore.ts';
import type { RunEvent, RunRecord } from '../../lib/store/types.ts';
import { type RandomDagInput, randomDag } from './randomDag.ts';

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
 * When the harness's simulated crashes struck each attempt (epoch ms). A simulated crash is
 * an error thrown in the worker, so unlike a dead process it gives its slot back at once:
 * the attempt stopped running there, not at its redelivery's STEP_START.
 */
export class AttemptCrashes {
  private readonly times = new Map<string, number[]>();

  note(attempt: { runId: string; step: string; attempt: number }, at = Date.now()): void {
    const id = attemptId(attempt.runId, attempt.step, attempt.attempt);
    this.times.set(id, [...(this.times.get(id) ?? []), at]);
  }

  /** The span cut at the first crash of its attempt inside it. */
  cut(span: AttemptSpan): AttemptSpan {
    const times = this.times.get(attemptId(span.runId, span.step, span.attempt)) ?? [];
    const crash = Math.min(...times.filter((at) => at >= span.start && at < span.end));
    return Number.isFinite(crash) ? { ...span, end: crash } : span;
  }
}

const attemptId = (runId: string, step: string, attempt: number) => `${runId}\u0000${step}\u0000${attempt}`;

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

/** What the simulation's keyed-limit audit found (SimulationReport.keyedLimits). */
export interface KeyedLimitsAudit {
  /** Per key: its limit, the most attempts that ran at once, and how many attempts ran. */
  readonly keys: { key: string; limit: number; peak: number; attempts: number }[];
  /** Keys that ran more at once than their limit: must be none. */
  readonly overLimit: string[];
  /** Leases still held after every run ended: must be none. */
  readonly leasesLeft: string[];
  /** STEP_WAITING_FOR_SLOT events: attempts that waited for a slot. */
  readonly waits: number;
}

/** `lambdag simulate`'s keyed limits unless told otherwise. */
export const DEFAULT_KEYED_LIMITS = { rate: 0.1, keys: 2, limit: 4 } as const;

/**
 * No key ran more attempts at once than its limit (from the finished runs' events, spans
 * from STEP_START to outcome), and no lease is held once every run has ended.
 */
export async function auditKeyedLimits(
  deps: Deps,
  runs: readonly RunRecord[],
  limits: { readonly keys: number; readonly limit: number },
  crashes: AttemptCrashes = new AttemptCrashes(),
): Promise<KeyedLimitsAudit> {
  const spans = new Map<string, AttemptSpan[]>();
  let waits = 0;
  for (const run of runs) {
    // The limits the job declared for this run, from its plan: the engine's own source.
    const plan = randomDag.plan(randomDag.parseInput(run.input) as RandomDagInput);
    const { events } = await deps.store.listEvents(run.runId);
    waits += events.filter((e) => e.type === EventType.STEP_WAITING_FOR_SLOT).length;
    for (const span of attemptSpans(run.runId, events).map((s) => crashes.cut(s))) {
      const spec = isMapStep(plan, span.step) ? undefined : stepSpecOf(plan, span.step);
      const key = spec && concurrencyOf(spec.options)?.key;
      if (key !== undefined) spans.set(key, [...(spans.get(key) ?? []), span]);
    }
  }
  const keys = Array.from({ length: limits.keys }, (_, i) => `sim-${i}`).map((key) => ({
    key,
    limit: limits.limit,
    peak: peakRunning(spans.get(key) ?? []),
    attempts: spans.get(key)?.length ?? 0,
  }));
  const held = await heldLeases(
    deps.slots,
    keys.map((k) => k.key),
  );
  return {
    keys,
    overLimit: keys
      .filter((k) => k.peak > k.limit)
      .map((k) => `${k.key}: ${k.peak} at once, limit ${k.limit}`),
    leasesLeft: held.map((lease) => `${lease.key} slot ${lease.slot}: ${lease.holder}`),
    waits,
  };
}
