import { forEachLimit } from '../concurrency.ts';
import type { Deps } from '../deps.ts';
import { stopRunTasks } from '../ecs/supervisor.ts';
import { RunNotFoundError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { RunStatus, StepStatus } from '../status.ts';
import type { RunStore } from '../store/runStore.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import type { PollState } from './pollPolicy.ts';

// Where PollRun and executionEnded have always found it; it lives apart so the step
// transitions (lib/step/attemptOutcome.ts) can stop a run without importing cancellation.
export { abortRun } from './abort.ts';

/**
 * Cancellation, in three places:
 * 1. `requestCancel` (client): one conditional write, STARTING/RUNNING -> CANCELING.
 * 2. The step runner (lib/step/runner.ts): a step whose run is canceling is not started, and a
 *    running step's AbortSignal is aborted; either way the attempt ends CANCELED.
 * 3. PollRun (`pollCanceling` here): marks the steps that have not started CANCELED and,
 *    once no step is running (or the grace period is over), reports CANCELED, so the state
 *    machine goes to FinalizeRun, which records the run CANCELED (lambdag.RunCanceled).
 */

export interface CancelLimits {
  /** A step still RUNNING this long after the cancel request is given up on (marked CANCELED). */
  readonly cancelGraceSeconds: number;
}

/** While a run is canceling, poll often: its steps stop within the workers' check interval. */
export const CANCEL_WAIT_SECONDS = 2;

const PARALLEL_WRITES = 16;

export interface CancelResult {
  readonly runId: string;
  readonly job: string;
  /** True when this call moved the run to CANCELING; false for a no-op. */
  readonly requested: boolean;
  /** The run's status after the call. */
  readonly status: RunStatus;
  readonly message: string;
}

/**
 * Ask a run to stop. A finished run, or one already canceling, is left as it is (a no-op
 * with a message saying so); an unknown run throws RunNotFoundError.
 */
export async function requestCancel(store: RunStore, runId: string, reason?: string): Promise<CancelResult> {
  const moved = await store.requestCancel(runId, reason);
  if (moved.ok) {
    await store.appendEvent(
      {
        runId,
        type: EventType.RUN_CANCEL_REQUESTED,
        message: reason ? `cancel requested: ${reason}` : 'cancel requested',
        ...(reason ? { data: { reason } } : {}),
      },
      moved.item.expiresAt,
    );
    return {
      runId,
      job: moved.item.job,
      requested: true,
      status: RunStatus.CANCELING,
      message: `run '${runId}' is canceling: steps not yet started will not run, running steps are aborted`,
    };
  }
  const current = moved.current;
  if (!current) throw new RunNotFoundError(runId);
  if (current.status === RunStatus.CANCELING) {
    return {
      runId,
      job: current.job,
      requested: false,
      status: current.status,
      message: `run '${runId}' is already canceling (requested at ${current.cancelRequestedAt ?? '?'}); nothing to do`,
    };
  }
  return {
    runId,
    job: current.job,
    requested: false,
    status: current.status,
    message: `run '${runId}' already finished ${current.status}; nothing to cancel`,
  };
}

const unfinished = (step: StepRecord | undefined) =>
  step !== undefined &&
  (step.status === StepStatus.WAITING ||
    step.status === StepStatus.QUEUED ||
    step.status === StepStatus.RUNNING);

/** PollRun's tick for a CANCELING run: sweep its steps; CANCELED once none is running. */
export async function pollCanceling(
  deps: Deps,
  state: PollState,
  run: RunRecord,
  limits: CancelLimits,
): Promise<PollState> {
  // ECS tasks get StopTask: their runners record the attempt CANCELED on the SIGTERM.
  const stopped = await stopRunTasks(deps, run, 'the run was canceled');
  if (stopped > 0) deps.log.info('ECS tasks of a canceling run stopped', { runId: run.runId, stopped });
  const sweep = await sweepCanceledRun(deps, run, limits);
  // Never a hand-over while canceling: the grace period bounds the ticks.
  const { handOver: _handOver, nextExecutionName: _name, ...rest } = state;
  return {
    ...rest,
    status: sweep.running > 0 ? RunStatus.CANCELING : RunStatus.CANCELED,
    waitSeconds: CANCEL_WAIT_SECONDS,
    progress: sweep.finished,
    idleSeconds: 0,
    ticks: state.ticks + 1,
  };
}

export interface SweepReport {
  /** Steps this sweep marked CANCELED. */
  readonly canceled: number;
  /** Steps still running (their workers stop them), or changed under the sweep (next tick). */
  readonly running: number;
  /** Steps in a final status after the sweep. */
  readonly finished: number;
}

/**
 * One pass over a canceling run's steps (O(steps), only while the run is canceling):
 * WAITING and QUEUED steps become CANCELED (their queued messages then fail the claim and
 * are dropped); RUNNING steps are left to their workers, which abort them, until the grace
 * period is over, when they are marked CANCELED too and a late result is ignored.
 */
export async function sweepCanceledRun(
  deps: Deps,
  run: RunRecord,
  limits: CancelLimits,
): Promise<SweepReport> {
  const requestedAt = Date.parse(run.cancelRequestedAt ?? run.updatedAt);
  const pastGrace = (Date.now() - requestedAt) / 1000 >= limits.cancelGraceSeconds;
  const notStarted: StepRecord[] = [];
  const running: StepRecord[] = [];
  let finished = 0;
  for await (const step of deps.store.listSteps(run.runId)) {
    switch (step.status) {
      case StepStatus.WAITING:
      case StepStatus.QUEUED:
        notStarted.push(step);
        break;
      case StepStatus.RUNNING:
        running.push(step);
        break;
      case StepStatus.SUCCEEDED:
      case StepStatus.FAILED:
      case StepStatus.SKIPPED:
      case StepStatus.CANCELED:
        finished++;
        break;
      default:
        step.status satisfies never;
    }
  }

  let canceled = 0;
  let stillRunning = 0;
  await forEachLimit(notStarted, PARALLEL_WRITES, async (step) => {
    const marked = await deps.store.markStepCanceled(
      run.runId,
      step.key,
      [StepStatus.WAITING, StepStatus.QUEUED],
      'the run was canceled before the step started',
    );
    if (marked.ok) canceled++;
    // A worker claimed it first (it sees the run canceling before the body starts): next tick.
    else if (unfinished(marked.current)) stillRunning++;
    else finished++;
  });
  await forEachLimit(running, PARALLEL_WRITES, async (step) => {
    // Lambda steps' runners abort them (lib/step/runner.ts, watchForCancel); ECS tasks were
    // stopped above (pollCanceling), and their runners record the attempt CANCELED. A map
    // step runs in its items, swept as steps: no worker of its own to wait for.
    if (!pastGrace && !step.map) {
      stillRunning++;
      return;
    }
    const marked = await deps.store.markStepCanceled(
      run.runId,
      step.key,
      [StepStatus.RUNNING],
      step.map
        ? 'the run was canceled while its items ran'
        : `still running ${limits.cancelGraceSeconds}s after the cancel request; its worker is presumed lost and a late result is ignored`,
      step.attempt,
    );
    if (marked.ok) canceled++;
    // A new attempt (retry) since the listing: next tick.
    else if (unfinished(marked.current)) stillRunning++;
    else finished++;
  });

  if (canceled > 0) {
    await deps.store.appendEvent(
      {
        runId: run.runId,
        type: EventType.STEP_CANCELED,
        message: `${canceled} step(s) canceled`,
        data: { count: canceled },
      },
      run.expiresAt,
    );
  }
  deps.log.info('canceling run swept', { runId: run.runId, canceled, running: stillRunning });
  return { canceled, running: stillRunning, finished: finished + canceled };
}
