import { abortRun, type CancelLimits, pollCanceling } from './cancel.ts';
import { handOver, handOverDue, maxPollTicksFromEnv } from './continueAsNew.ts';
import type { Deps } from './deps.ts';
import { ConfigError, ErrorCode, InvalidInputError } from './errors.ts';
import type { ReconcileLimits } from './reconcile.ts';
import { reconcileRun } from './reconcile.ts';
import { nextWaitSeconds, type PollState, PollStateSchema, paceOf } from './runState.ts';
import { RunStatus, TERMINAL_RUN_STATUSES } from './status.ts';
import { superviseTasks, type TaskSupervisionLimits } from './taskSupervisor.ts';

export interface PollOptions extends ReconcileLimits, CancelLimits, TaskSupervisionLimits {
  /** Reconcile a run whose counters have not moved for this long. */
  readonly stallSeconds: number;
  /** Poll ticks per execution before continue-as-new. */
  readonly maxTicks: number;
}

/**
 * PollRun: one read of the run item (cost independent of the run's size). Says
 * whether the run is done; grows the wait while nothing changes; reconciles a run
 * that stalled or that a worker flagged after a crash.
 */
export async function pollRun(deps: Deps, raw: unknown, options: PollOptions): Promise<PollState> {
  const parsed = PollStateSchema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidInputError(
      'poll state is invalid',
      parsed.error.issues.map((i) => i.message),
    );
  const state = parsed.data;
  let run = await deps.store.requireRun(state.runId);
  if (TERMINAL_RUN_STATUSES.has(run.status)) return { ...state, status: run.status, ticks: state.ticks + 1 };
  const { timeoutSeconds } = deps.registry.get(run.job);
  if (
    run.status !== RunStatus.CANCELING &&
    timeoutSeconds !== undefined &&
    Date.now() - Date.parse(run.createdAt) > timeoutSeconds * 1000
  ) {
    await abortRun(deps, run.runId, {
      name: 'RunTimeoutError',
      code: ErrorCode.RUN_TIMEOUT,
      message: `the run timed out: still going after its timeoutSeconds (${timeoutSeconds}s)`,
    });
    run = await deps.store.requireRun(state.runId);
  }
  // A canceling run is swept, never reconciled (that would dispatch steps again).
  if (run.status === RunStatus.CANCELING) return pollCanceling(deps, state, run, options);

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
    ticks: state.ticks + 1,
    ...(state.generation ? { generation: state.generation } : {}),
  };
  // Before the execution's history fills up, hand the still-running run to a new execution.
  return status === RunStatus.RUNNING && handOverDue(next, options.maxTicks) ? handOver(next) : next;
}

export function pollOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PollOptions {
  const num = (name: string, fallback: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new ConfigError(name, `must be a positive number, got '${value}'`);
    return n;
  };
  return {
    stallSeconds: num('LAMBDAG_STALL_SECONDS', 300),
    maxTicks: maxPollTicksFromEnv(env),
    queuedLostSeconds: num('LAMBDAG_QUEUED_LOST_SECONDS', 900),
    runningLostSeconds: num('LAMBDAG_RUNNING_LOST_SECONDS', 1_000),
    cancelGraceSeconds: num('LAMBDAG_CANCEL_GRACE_SECONDS', 60),
    // Four of the tasks' 30 s heartbeats.
    ecsStaleSeconds: num('LAMBDAG_ECS_STALE_SECONDS', 120),
    ecsStartTimeoutSeconds: num('LAMBDAG_ECS_START_TIMEOUT_SECONDS', 600),
  };
}
