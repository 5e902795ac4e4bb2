import type { Deps } from '../deps.ts';
import { StepTimeoutError, TaskLostError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { type JobPlan, stepSpecOf } from '../job/dag.ts';
import { loadPlan } from '../run/loadPlan.ts';
import { StepStatus } from '../status.ts';
import { failAttempt } from '../step/attemptOutcome.ts';
import { currentAttemptOf, type RunRef, runRefOf } from '../step/dispatch.ts';
import type { StepMessage } from '../step/messages.ts';
import { releaseDependents, skipDownstream } from '../step/release.ts';
import { decodeTaskEntry, type TaskEntry } from '../store/runStore.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import type { TaskState } from './tasks.ts';

export interface TaskSupervisionLimits {
  /** A task whose step has not had a heartbeat for this long is stuck: stopped, and its attempt retried. */
  readonly ecsStaleSeconds: number;
  /** A task still not RUNNING this long after RunTask never started: stopped, and its attempt sent again. */
  readonly ecsStartTimeoutSeconds: number;
}

export interface SupervisionReport {
  /** Attempts whose task was lost (stopped without a result, stuck): retried or failed. */
  readonly lost: number;
  /** Attempts past their `timeoutSeconds`: their task stopped, the attempt failed (or retried). */
  readonly timedOut: number;
  /** Attempts whose task never claimed them: sent again. */
  readonly relaunched: number;
  /** Entries that left the run's `tasks` set. */
  readonly settled: number;
}

/** Tasks of one attempt that may stop before running it, each followed by a new one, before the attempt fails. */
export const MAX_RELAUNCHES = 2;

/** ECS task states after which the task runs nothing any more. */
const GONE = new Set(['STOPPED', 'DELETED', 'MISSING']);
const RUNNING_STATES = new Set(['RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING']);
const gone = (task: TaskState | undefined) => task === undefined || GONE.has(task.lastStatus);

/**
 * PollRun's watch over a run's ECS tasks (the run item's `tasks` set, written by the
 * worker that launched each one): O(tasks of the run), never a scan of its steps. For each
 * task, by its step attempt's state:
 * - RUNNING, claimed by this task: a task that STOPPED (or that ECS forgot) without a
 *   result, or whose heartbeat is older than `ecsStaleSeconds`, lost the attempt: it is
 *   stopped and the attempt fails with TaskLostError, retried within the step's `retries`
 *   as a new attempt (the old one's idempotency lock would block it for an hour). Past
 *   the step's `timeoutSeconds` (plus `ecsStaleSeconds` for the task's own timer to act)
 *   the task is stopped and the attempt fails with StepTimeoutError.
 * - QUEUED (launched, not claimed): a task that stopped, or never reached RUNNING within
 *   `ecsStartTimeoutSeconds` (ECS leaves ~1% of tasks in PENDING), is stopped and the
 *   attempt sent again, unless another task of that attempt is still alive.
 * - anything else: the attempt ended or moved on; its entry is settled, and a task that is
 *   still alive for a superseded or canceled attempt is stopped.
 * Every step transition is the same conditional write the runner makes, so a result that
 * the task records at the same moment wins or loses cleanly.
 */
export async function superviseTasks(
  deps: Deps,
  run: RunRecord,
  limits: TaskSupervisionLimits,
): Promise<SupervisionReport> {
  const entries = taskEntriesOf(run);
  if (entries.length === 0) return { lost: 0, timedOut: 0, relaunched: 0, settled: 0 };
  const { plan, input } = await loadPlan(deps, run);
  const runRef = runRefOf(run, input);
  const steps = await deps.store.getSteps(run.runId, [...new Set(entries.map((e) => e.step))]);
  const tasks = await deps.ecsTasks.describe([...new Set(entries.map((e) => e.taskArn))]);
  const now = Date.now();
  const settled: TaskEntry[] = [];
  const report = { lost: 0, timedOut: 0, relaunched: 0 };

  const stop = async (taskArn: string, reason: string) => {
    if (!gone(tasks.get(taskArn))) await deps.ecsTasks.stop(taskArn, reason);
  };

  for (const entry of entries) {
    const step = steps.get(entry.step);
    const task = tasks.get(entry.taskArn);
    const current =
      step !== undefined &&
      step.attempt === entry.attempt &&
      (step.status === StepStatus.QUEUED || step.status === StepStatus.RUNNING);

    if (!current) {
      // A task that recorded its attempt's outcome is finishing (releasing dependents): left
      // alone until it is gone. One whose attempt was superseded or canceled is stopped.
      if (!step || step.attempt > entry.attempt || step.status === StepStatus.CANCELED) {
        await stop(entry.taskArn, `lambdag: attempt ${entry.attempt} of step '${entry.step}' is over`);
      } else if (!gone(task)) continue;
      settled.push(entry);
      // Gone without settling its entry (a clean exit settles it): it may have died between
      // its outcome and what follows it. Finish that, as a redelivery would (idempotent).
      if (step && gone(task)) await finishAfterOutcome(deps, runRef, plan, step, entry);
      continue;
    }

    if (step.status === StepStatus.RUNNING && step.taskArn === entry.taskArn) {
      const verdict = judgeRunningTask(
        step,
        task,
        stepSpecOf(plan, step.key)?.options.timeoutSeconds,
        now,
        limits,
      );
      if (!verdict) continue;
      await stop(entry.taskArn, `lambdag: ${verdict.message}`);
      await deps.store.appendEvent(
        {
          runId: run.runId,
          type: EventType.STEP_TASK_LOST,
          step: step.key,
          attempt: step.attempt,
          message: verdict.message,
          data: { taskArn: entry.taskArn, taskStatus: task?.lastStatus },
        },
        run.expiresAt,
      );
      await failAttempt(deps, { run: runRef, plan, message: messageOf(run, step, input) }, verdict);
      if (verdict instanceof StepTimeoutError) report.timedOut++;
      else report.lost++;
      settled.push(entry);
      continue;
    }

    if (step.status === StepStatus.QUEUED) {
      const neverStarted =
        !gone(task) &&
        !RUNNING_STATES.has(task?.lastStatus ?? '') &&
        now - (task?.createdAt?.getTime() ?? now) > limits.ecsStartTimeoutSeconds * 1000;
      if (!gone(task) && !neverStarted) continue;
      settled.push(entry);
      await stop(entry.taskArn, `lambdag: not started within ${limits.ecsStartTimeoutSeconds}s`);
      const sibling = entries.some(
        (e) =>
          e !== entry &&
          e.step === entry.step &&
          e.attempt === entry.attempt &&
          !gone(tasks.get(e.taskArn)) &&
          !settled.includes(e),
      );
      if (sibling) continue;
      const why = neverStarted
        ? `its ECS task did not start within ${limits.ecsStartTimeoutSeconds}s`
        : `its ECS task stopped before it claimed the attempt (${stopDetail(task)})`;
      const counted = await deps.store.countRelaunch(run.runId, step.key, step.attempt);
      if (!counted.ok) continue; // claimed or moved on meanwhile
      if ((counted.item.relaunches ?? 0) > MAX_RELAUNCHES) {
        // A task that never gets going (a bad image, a missing permission) is not sent
        // forever: the attempt is taken over (the claim) and failed, retried within `retries`.
        const lost = new TaskLostError(
          step.key,
          entry.taskArn,
          `${MAX_RELAUNCHES + 1} tasks in a row never ran the attempt; the last: ${why}`,
        );
        const claimed = await deps.store.claimStep(run.runId, step.key, step.attempt);
        if (claimed.ok) {
          await failAttempt(deps, { run: runRef, plan, message: messageOf(run, step, input) }, lost);
          report.lost++;
        }
        continue;
      }
      await deps.store.appendEvent(
        {
          runId: run.runId,
          type: EventType.STEP_TASK_LOST,
          step: step.key,
          attempt: step.attempt,
          message: `${why}; sending the attempt again`,
          data: { taskArn: entry.taskArn, taskStatus: task?.lastStatus },
        },
        run.expiresAt,
      );
      await deps.dispatcher.dispatch(runRef, plan, [currentAttemptOf(step)]);
      report.relaunched++;
      continue;
    }

    // RUNNING under another task (a duplicate launch): this one exits on its own.
    if (gone(task)) settled.push(entry);
  }

  await deps.store.untrackTasks(run.runId, settled);
  const out = { ...report, settled: settled.length };
  if (report.lost || report.timedOut || report.relaunched)
    deps.log.warn('ECS tasks supervised', { runId: run.runId, ...out });
  return out;
}

/**
 * What a task that died right after its attempt's outcome left undone: the dependents of a
 * success (released again, once each), the downstream of a failure (skipped), the message of
 * a retry it scheduled (sent again; a duplicate's second task finds the attempt taken).
 */
async function finishAfterOutcome(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  step: StepRecord,
  entry: TaskEntry,
): Promise<void> {
  if (step.attempt === entry.attempt && step.status === StepStatus.SUCCEEDED) {
    // As a redelivery of that task would: the task's ARN is its delivery.
    await releaseDependents(deps, run, plan, step.key, { retry: true, delivery: entry.taskArn });
    await deps.store.requestReconcile(run.runId);
  } else if (step.attempt === entry.attempt && step.status === StepStatus.FAILED) {
    await skipDownstream(deps, run.runId, plan, step.key, run.expiresAt);
    await deps.store.requestReconcile(run.runId);
  } else if (step.attempt === entry.attempt + 1 && step.status === StepStatus.QUEUED) {
    await deps.dispatcher.dispatch(run, plan, [currentAttemptOf(step)]);
  }
}

/**
 * Whether a RUNNING attempt's task lost it, and why: undefined while it is fine.
 * Past the step's timeout the reason is the timeout, whatever else is wrong.
 */
export function judgeRunningTask(
  step: StepRecord,
  task: TaskState | undefined,
  timeoutSeconds: number | undefined,
  now: number,
  limits: TaskSupervisionLimits,
): StepTimeoutError | TaskLostError | undefined {
  const startedAt = Date.parse(step.startedAt ?? step.updatedAt);
  const beatAt = Date.parse(step.heartbeatAt ?? step.startedAt ?? step.updatedAt);
  const runningMs = now - startedAt;
  const pastTimeout = timeoutSeconds !== undefined && runningMs > timeoutSeconds * 1000;
  const staleMs = now - beatAt;
  const arn = step.taskArn ?? task?.taskArn ?? 'unknown task';
  const timedOut = () => new StepTimeoutError(step.key, timeoutSeconds ?? 0);
  if (gone(task)) {
    return pastTimeout
      ? timedOut()
      : new TaskLostError(step.key, arn, `it stopped without a result (${stopDetail(task)})`);
  }
  if (pastTimeout && runningMs > ((timeoutSeconds ?? 0) + limits.ecsStaleSeconds) * 1000) return timedOut();
  if (staleMs > limits.ecsStaleSeconds * 1000) {
    return pastTimeout
      ? timedOut()
      : new TaskLostError(
          step.key,
          arn,
          `no heartbeat for ${Math.round(staleMs / 1000)}s; the task was stopped`,
        );
  }
  return undefined;
}

/**
 * The run is canceling: stop every task it still has (their runners record the attempt
 * CANCELED on SIGTERM), and settle their entries. Returns how many were asked to stop.
 */
export async function stopRunTasks(deps: Deps, run: RunRecord, reason: string): Promise<number> {
  const entries = taskEntriesOf(run);
  if (entries.length === 0) return 0;
  const tasks = await deps.ecsTasks.describe([...new Set(entries.map((e) => e.taskArn))]);
  let stopped = 0;
  for (const arn of new Set(entries.map((e) => e.taskArn))) {
    if (gone(tasks.get(arn))) continue;
    await deps.ecsTasks.stop(arn, `lambdag: ${reason}`);
    stopped++;
  }
  await deps.store.untrackTasks(run.runId, entries);
  return stopped;
}

/** The run's tracked tasks (an entry that does not parse is not lambdag's, and is left alone). */
function taskEntriesOf(run: RunRecord): TaskEntry[] {
  return (run.tasks ?? []).map(decodeTaskEntry).filter((e): e is TaskEntry => e !== undefined);
}

function stopDetail(task: TaskState | undefined): string {
  if (!task || task.lastStatus === 'MISSING') return 'ECS no longer knows the task';
  const exit = task.exitCode === undefined ? '' : `exit code ${task.exitCode}, `;
  return `${exit}${task.stoppedReason ?? 'no reason given'}`;
}

/** The step message of a step's current attempt, as the supervisor fails it. */
function messageOf(run: RunRecord, step: StepRecord, input: unknown): StepMessage {
  return {
    v: 1,
    runId: run.runId,
    job: run.job,
    step: step.key,
    attempt: step.attempt,
    input,
    ...(run.expiresAt === undefined ? {} : { expiresAt: run.expiresAt }),
    ecs: step.promotedAt === undefined ? {} : { promotedAt: step.promotedAt },
  };
}
