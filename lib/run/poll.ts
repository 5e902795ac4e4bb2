import type { Deps } from '../deps.ts';
import { superviseTasks, type TaskSupervisionLimits } from '../ecs/supervisor.ts';
import { ErrorCode, InvalidInputError } from '../errors.ts';
import { RunStatus, TERMINAL_RUN_STATUSES } from '../status.ts';
import type { RunRecord } from '../store/types.ts';
import { abortRun, type CancelLimits, pollCanceling } from './cancel.ts';
import { handOver, handOverDue } from './continueAsNew.ts';
import { nextWaitSeconds, type PollState, PollStateSchema, paceOf } from './pollPolicy.ts';
import type { ReconcileLimits } from './reconcile.ts';
import { reconcileRun } from './reconcile.ts';
import { renewRunSlot } from './runQueue.ts';

export interface PollOptions extends ReconcileLimits, CancelLimits, TaskSupervisionLimits {
  /** Reconcile a run whose counters have not moved for this long. */
  readonly stallSeconds: number;
  /** Poll ticks per execution before continue-as-new. */
  readonly maxTicks: number;
  /** Seconds of its waits one PollRun invocation may spend watching the run itself (0: none). */
  readonly watchSeconds: number;
  /** How often a watching PollRun reads the run item. */
  readonly watchCheckMs: number;
}

export interface PollLimits {
  /** Epoch ms by which the invocation must have returned (its Lambda deadline). */
  readonly deadline?: number;
}

/** Kept free before the invocation's deadline when deciding to watch. */
const WATCH_MARGIN_MS = 5_000;

/**
 * PollRun: one read of the run item (cost independent of the run's size). Says
 * whether the run is done; grows the wait while nothing changes; reconciles a run
 * that stalled or that a worker flagged after a crash.
 *
 * While the wait it would ask for is short, it waits it out itself, watching the run
 * item, instead of returning to a Wait state: up to `watchSeconds` of waits per
 * invocation (1 + 2 + 4 + 8 s by default), so a run that ends within them costs the state
 * machine one poll (3 transitions) instead of one per wait, and its end is seen within
 * `watchCheckMs`. Each poll cycle avoided saves 3 transitions ($75 per million polls);
 * watching costs PollRun's duration (256 MB: $4.2 per million seconds) and a read every
 * check. A run with ECS tasks in flight is not watched: their supervision goes by ticks.
 */
export async function pollRun(
  deps: Deps,
  raw: unknown,
  options: PollOptions,
  limits: PollLimits = {},
): Promise<PollState> {
  const parsed = PollStateSchema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidInputError(
      'poll state is invalid',
      parsed.error.issues.map((i) => i.message),
    );
  const state = parsed.data;
  let observed = await observe(deps, state, options);
  let budgetMs = options.watchSeconds * 1000;
  for (;;) {
    const { next, watchable } = observed;
    const waitMs = next.waitSeconds * 1000;
    const fits = limits.deadline === undefined || Date.now() + waitMs + WATCH_MARGIN_MS <= limits.deadline;
    if (!watchable || next.status !== RunStatus.RUNNING || waitMs > budgetMs || !fits) break;
    budgetMs -= waitMs;
    const seen = await watch(deps, next.runId, waitMs, options.watchCheckMs);
    observed = await observe(deps, next, options, seen);
  }
  // One tick per invocation, however long it watched: ticks count the execution's history.
  const next = { ...observed.next, ticks: state.ticks + 1 };
  // Before the execution's history fills up, hand the still-running run to a new execution.
  return next.status === RunStatus.RUNNING && handOverDue(next, options.maxTicks) ? handOver(next) : next;
}

/**
 * Wait `waitMs`, reading the run item every `checkMs`; back early once it is done, has
 * changed status, asks for a reconcile or has ECS tasks to supervise, with the run item
 * that showed it (so the next look need not read it again).
 */
async function watch(
  deps: Deps,
  runId: string,
  waitMs: number,
  checkMs: number,
): Promise<RunRecord | undefined> {
  const until = Date.now() + waitMs;
  for (;;) {
    await sleep(Math.min(checkMs, until - Date.now()));
    if (Date.now() >= until) return undefined;
    const run = await deps.store.requireRun(runId);
    if (run.status !== RunStatus.RUNNING || run.reconcile || run.tasks?.length) return run;
    if (run.succeeded + run.failed + run.skipped >= run.stepCount) return run;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * One look at the run (`seen`, when it was just read): the state to go on with, and
 * whether it may be watched.
 */
async function observe(
  deps: Deps,
  given: PollState,
  options: PollOptions,
  seen?: RunRecord,
): Promise<{ next: PollState; watchable: boolean }> {
  let run = seen ?? (await deps.store.requireRun(given.runId));
  if (TERMINAL_RUN_STATUSES.has(run.status))
    return { next: { ...given, status: run.status }, watchable: false };
  // A run under maxConcurrentRuns keeps its slot while it goes: one UpdateItem per 5 minutes.
  const runSlotUntil = await renewRunSlot(deps, run, given.runSlotUntil);
  const state = runSlotUntil === undefined ? given : { ...given, runSlotUntil };
  const { timeoutSeconds } = deps.registry.get(run.job);
  if (
    run.status !== RunStatus.CANCELING &&
    timeoutSeconds !== undefined &&
    // A run's time counts from its start, not from when it was queued.
    Date.now() - Date.parse(run.startedAt ?? run.createdAt) > timeoutSeconds * 1000
  ) {
    await abortRun(deps, run.runId, {
      name: 'RunTimeoutError',
      code: ErrorCode.RUN_TIMEOUT,
      message: `the run timed out: still going after its timeoutSeconds (${timeoutSeconds}s)`,
    });
    run = await deps.store.requireRun(state.runId);
  }
  // A canceling run is swept, never reconciled (that would dispatch steps again).
  if (run.status === RunStatus.CANCELING)
    return { next: await pollCanceling(deps, state, run, options), watchable: false };

  const idleSeconds = Math.max(0, (Date.now() - Date.parse(run.updatedAt)) / 1000);
  if (run.reconcile || idleSeconds >= options.stallSeconds) {
    await reconcileRun(deps, run, options);
    run = await deps.store.requireRun(state.runId);
  }
  // Only runs with ECS tasks in flight pay for this: a DescribeTasks and a read of their steps.
  if (run.tasks?.length) {
    const supervised = await superviseTasks(deps, run, options);
    if (supervised.lost || supervised.timedOut) run = await deps.store.requireRun(state.runId);
  }

  const progress = run.succeeded + run.failed + run.skipped;
  const done = progress >= run.stepCount;
  const status = done ? (run.failed > 0 ? RunStatus.FAILED : RunStatus.SUCCEEDED) : RunStatus.RUNNING;
  const now = Date.now();
  const next: PollState = {
    runId: run.runId,
    status,
    waitSeconds: nextWaitSeconds(
      state.waitSeconds,
      paceOf(state, { progress, stepCount: run.stepCount, at: now }),
    ),
    polledAt: now,
    progress,
    idleSeconds: Math.round(idleSeconds),
    ticks: state.ticks,
    ...(state.generation ? { generation: state.generation } : {}),
    ...(state.runSlotUntil === undefined ? {} : { runSlotUntil: state.runSlotUntil }),
  };
  return { next, watchable: !run.tasks?.length };
}
