import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import { queuedRunWaitSeconds, RUN_LEASE_MS, renewalDue } from '../limits/runSlotPolicy.ts';
import { LEASE_MARGIN_MS, SlotGate } from '../limits/slotGate.ts';
import { RunStatus } from '../status.ts';
import type { RunRecord } from '../store/types.ts';
import { continuationName, takeOver } from './continueAsNew.ts';
import { parseRequest } from './parseRequest.ts';

/**
 * Run-level limits (a job's `maxConcurrentRuns`, docs/concurrency.md) on the run's own
 * execution: StartRun creates a run over its limit QUEUED and answers `queued`; the state
 * machine waits (run.asl.json WaitInQueue) and asks StartRun again, which takes a slot of
 * the key when one is free and its turn has come (lib/limits/slotGate.ts, holder: the run
 * id, in line by when the run was queued), moves the run QUEUED -> STARTING and starts it.
 * Nothing waits in memory: the run item and its waiter item say where it is, so a crashed
 * StartRun loses no place. PollRun renews the lease; FinalizeRun gives it back.
 */

/** The state machine's input when a queued run asks again for a slot (run.asl.json AskForRunSlot). */
export function isQueuedAsk(raw: unknown): raw is { queuedRun: unknown } {
  return typeof raw === 'object' && raw !== null && 'queuedRun' in raw;
}

/** A queued ask's request and progress (a first ask, from StartRun's own request, has none). */
export function queuedAskOf(raw: { queuedRun: unknown }): { queuedRun: unknown } & QueueProgress {
  return parseRequest(QueuedAskSchema, raw, 'queued run ask');
}

/**
 * A queued ask counts as this many poll ticks towards its execution's history (about 11
 * events: Choice, Wait, Pass and the StartRun task, against a poll tick's 9), so a run
 * queued for a day hands itself over to a fresh execution as a long poll does.
 */
export const TICKS_PER_QUEUED_ASK = 2;

/** Where a queued run's execution is: its asks so far, and which execution of the run it is. */
export interface QueueProgress {
  readonly asks: number;
  readonly generation: number;
}

/** StartRun's answer for a run that waits for a slot: the state machine waits, then asks again with `queued`. */
export interface QueuedStart extends QueueProgress {
  readonly runId: string;
  readonly status: typeof RunStatus.QUEUED;
  readonly waitSeconds: number;
  /** The start request, naming the run: what the next ask sends. */
  readonly queued: Record<string, unknown> & { readonly runId: string };
  /** Runs in line ahead of this one when it asked (among those read). */
  readonly ahead: number;
  /** This execution's history is filling up: a new one (`nextExecutionName`) goes on waiting. */
  readonly handOver?: true;
  readonly nextExecutionName?: string;
}

/** A queued ask: the start request (naming the run), its asks so far and its generation. */
const QueuedAskSchema = z.object({
  queuedRun: z.unknown(),
  asks: z.number().int().min(0).default(0),
  generation: z.number().int().min(0).default(0),
});

/** The start request a queued ask carries: at least the run it names. */
const QueuedRunSchema = z.looseObject({ runId: z.string().min(1) });

/** A queued run handed over to a new execution (run.asl.json ContinueAsNew with a QueuedStart). */
const QueuedContinuationSchema = z.object({
  continueRun: z.looseObject({
    runId: z.string(),
    status: z.literal(RunStatus.QUEUED),
    queued: z.looseObject({ runId: z.string() }),
    generation: z.number().int().min(0),
    asks: z.number().int().min(0),
  }),
});

/** The queued ask a queued run's continuation makes, once the new execution has taken the run over. */
export async function continueQueued(
  deps: Deps,
  raw: unknown,
  executionArn: string | undefined,
): Promise<{ queuedRun: unknown; asks: number; generation: number } | undefined> {
  const parsed = QueuedContinuationSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { runId, queued, generation, asks } = parsed.data.continueRun;
  await takeOver(deps, runId, executionArn, generation, { asks });
  return { queuedRun: queued, asks: 0, generation };
}

export function isQueuedStart(answer: object): answer is QueuedStart {
  return 'queued' in answer;
}

export type RunSlotAsk =
  | { readonly admitted: true; readonly run: RunRecord; readonly slotUntil?: number }
  | {
      readonly admitted: false;
      readonly run: RunRecord;
      readonly waitSeconds?: number;
      readonly ahead?: number;
      /** The limit in force when it asked (a `concurrency set` override wins over the job's). */
      readonly limit?: number;
    };

/**
 * One ask of a QUEUED run for a slot. Admitted: the run is STARTING (it holds its slot, or
 * another StartRun of it already moved it on). Not admitted: it waits `waitSeconds`, or it
 * is no longer QUEUED (canceled: `run` says how it is), and it holds no slot.
 */
export async function askForRunSlot(
  deps: Deps,
  run: RunRecord,
  /** The StartRun that created the run asks first: it has no waiter item yet. */
  firstAsk = false,
  now = Date.now(),
): Promise<RunSlotAsk> {
  const limit = run.runLimit;
  // Queued under a limit its job no longer has (a deploy removed it): nothing to wait for.
  if (!limit) return admit(deps, run, undefined, now);
  const grant = await new SlotGate(deps.slots, deps.log).acquire({
    key: limit.key,
    limit: limit.limit,
    holder: run.runId,
    waitingSince: limit.queuedSince,
    attemptMs: RUN_LEASE_MS,
    minDelaySeconds: queuedRunWaitSeconds(now - limit.queuedSince),
    firstAsk,
  });
  if (!grant.held)
    return { admitted: false, run, waitSeconds: grant.delaySeconds, ahead: grant.ahead, limit: grant.limit };
  return admit(deps, run, { slot: grant.lease.slot, until: grant.lease.until }, now);
}

async function admit(
  deps: Deps,
  run: RunRecord,
  lease: { slot: number; until: number } | undefined,
  now: number,
): Promise<RunSlotAsk> {
  const moved = await deps.store.setRunStatus(run.runId, [RunStatus.QUEUED], RunStatus.STARTING, {
    startedAt: new Date(now).toISOString(),
    ...(run.runLimit && lease ? { runLimit: { ...run.runLimit, slot: lease.slot } } : {}),
  });
  if (moved.ok) return { admitted: true, run: moved.item, ...(lease ? { slotUntil: lease.until } : {}) };
  const current = moved.current ?? run;
  // Another StartRun of this run (a retry, a duplicate) moved it on with this same slot.
  if (current.status === RunStatus.STARTING || current.status === RunStatus.RUNNING)
    return { admitted: true, run: current };
  // Canceled while it took the slot: the slot goes back at once, not at the lease's end.
  if (run.runLimit && lease) await deps.slots.releaseSlot(run.runLimit.key, lease.slot, run.runId);
  return { admitted: false, run: current };
}

/** The queued answer, and (its first ask) the RUN_QUEUED event saying why it waits. */
export async function queuedStart(
  deps: Deps,
  run: RunRecord,
  ask: { readonly waitSeconds?: number; readonly ahead?: number; readonly limit?: number },
  request: Record<string, unknown>,
  firstAsk: boolean,
  progress: QueueProgress & { readonly maxTicks: number },
): Promise<QueuedStart> {
  const ahead = ask.ahead ?? 0;
  const asks = progress.asks + 1;
  const handOverDue = asks * TICKS_PER_QUEUED_ASK >= progress.maxTicks;
  if (firstAsk && run.runLimit) {
    const { key } = run.runLimit;
    const limit = ask.limit ?? run.runLimit.limit;
    await deps.store.appendEvent(
      {
        runId: run.runId,
        type: EventType.RUN_QUEUED,
        message: `run queued: ${key} has its limit of ${limit} run(s) going (${ahead} queued ahead)`,
        data: { key, limit, ahead },
      },
      run.expiresAt,
    );
  }
  return {
    runId: run.runId,
    status: RunStatus.QUEUED,
    waitSeconds: ask.waitSeconds ?? 1,
    queued: { ...request, runId: run.runId },
    ahead,
    asks,
    generation: progress.generation,
    ...(handOverDue
      ? {
          handOver: true,
          generation: progress.generation + 1,
          nextExecutionName: continuationName(run.runId, progress.generation + 1),
        }
      : {}),
  };
}

/**
 * PollRun's renewal of a running run's slot lease, when it is due (`until`: when it ends,
 * as the last renewal set it). The new `until`, or undefined when the run holds no slot.
 * A lease that ended before its renewal (PollRun stalled for minutes) is logged: the run
 * goes on, and for a while its key may have one run more than its limit.
 */
export async function renewRunSlot(
  deps: Deps,
  run: RunRecord,
  until: number | undefined,
  now = Date.now(),
): Promise<number | undefined> {
  const limit = run.runLimit;
  if (limit?.slot === undefined) return undefined;
  if (!renewalDue(until, now)) return until;
  const lease = {
    key: limit.key,
    slot: limit.slot,
    holder: run.runId,
    until: now + RUN_LEASE_MS + LEASE_MARGIN_MS,
  };
  const renewed = await deps.slots.renewSlot(lease, now);
  // Either way the next renewal is due in minutes: a lost lease is not asked for on every poll.
  if (!renewed.ok)
    deps.log.warn('a run slot lease had ended before its renewal', { runId: run.runId, key: limit.key });
  return lease.until;
}

/**
 * A queued run's next ask (`queuedRun`: its start request): still waiting, the queued answer;
 * otherwise undefined, and StartRun goes on with the request as a retried StartRun would
 * (admitted: it writes and dispatches the run; canceled meanwhile: it reports that).
 */
export async function askAgain(
  deps: Deps,
  queuedRun: unknown,
  progress: QueueProgress & { readonly maxTicks: number },
): Promise<QueuedStart | undefined> {
  const request = parseRequest(QueuedRunSchema, queuedRun, 'queued run request');
  const run = await deps.store.requireRun(request.runId);
  if (run.status !== RunStatus.QUEUED) return undefined;
  const ask = await askForRunSlot(deps, run);
  return ask.admitted || ask.run.status !== RunStatus.QUEUED
    ? undefined
    : queuedStart(deps, run, ask, request, false, progress);
}

/**
 * FinalizeRun's give-back, however the run ended: its slot (the next queued run takes it at
 * its next ask), or, for a run that never left the queue, its place in line. Idempotent: a
 * slot no longer the run's is not touched.
 */
export async function giveBackRunSlot(deps: Deps, run: RunRecord): Promise<void> {
  const limit = run.runLimit;
  if (!limit) return;
  if (limit.slot !== undefined) await deps.slots.releaseSlot(limit.key, limit.slot, run.runId);
  else await deps.slots.deleteWaiter(limit.key, run.runId, limit.queuedSince);
}
