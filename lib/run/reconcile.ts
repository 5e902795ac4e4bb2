import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import { isMapStep, type JobPlan } from '../job/dag.ts';
import { StepStatus } from '../status.ts';
import { currentAttemptOf, type DispatchItem, runRefOf } from '../step/dispatch.ts';
import { releasedByMessage } from '../step/release.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';
import { loadPlan } from './loadPlan.ts';
import { lostItems } from './reconcileItems.ts';

export interface ReconcileLimits {
  /** A QUEUED step untouched for this long has its message sent again (duplicates are suppressed). */
  readonly queuedLostSeconds: number;
  /** A RUNNING step untouched for this long lost its worker (beyond any worker's own limit). */
  readonly runningLostSeconds: number;
}

/** The `releasedBy` of steps reconciliation queues (it sends them itself, right after). */
const RECONCILE_DELIVERY = 'reconcile';

export interface ReconcileReport {
  readonly requeued: number;
  readonly released: number;
  readonly skipped: number;
  readonly counts: { succeeded: number; failed: number; skipped: number };
}

/**
 * The slow path that catches what the fast path missed: a lost message, a worker that
 * crashed between recording a result and releasing its dependents, counters left behind.
 * Reads every step of the run once (O(steps)); pollRun calls it only when a run stalls
 * or a worker asked for it, never on every tick.
 */
export async function reconcileRun(
  deps: Deps,
  run: RunRecord,
  limits: ReconcileLimits,
): Promise<ReconcileReport> {
  const { plan, input } = await loadPlan(deps, run);
  const steps = new Map<string, StepRecord>();
  for await (const step of deps.store.listSteps(run.runId)) steps.set(step.key, step);
  const now = Date.now();
  const resend: DispatchItem[] = [];
  const release: string[] = [];
  let skipped = 0;

  for (const key of plan.order) {
    const step = steps.get(key);
    if (!step) continue;
    const idleSeconds = (now - Date.parse(step.updatedAt)) / 1000;
    if (step.status === StepStatus.WAITING) {
      const ups = (plan.upstream.get(key) ?? []).map((u) => steps.get(u)?.status);
      const blocked = ups.find((s) => s === StepStatus.FAILED || s === StepStatus.SKIPPED);
      if (blocked) {
        const marked = await deps.store.markSkipped(run.runId, key, 'an upstream step failed');
        if (marked.ok) {
          steps.set(key, marked.item);
          skipped++;
        }
      } else if (ups.every((s) => s === StepStatus.SUCCEEDED) && !inFlight(plan, steps, key, now, limits)) {
        // A map step's message expands it (lib/step/runner.ts), as a RUNNING one's re-send resumes it.
        // Marked as reconciliation's own: a recovering upstream delivery must not send it too.
        const queued = await deps.store.markQueued(run.runId, key, RECONCILE_DELIVERY);
        if (queued.ok) {
          steps.set(key, queued.item);
          release.push(key);
        }
      }
    } else if (
      (step.status === StepStatus.QUEUED && idleSeconds >= limits.queuedLostSeconds) ||
      (step.status === StepStatus.RUNNING && idleSeconds >= limits.runningLostSeconds)
    ) {
      resend.push(currentAttemptOf(step));
    }
  }

  // Map items are not in the plan: their lost messages are found apart.
  const items = await lostItems(deps, run.runId, plan, steps, now, limits, RECONCILE_DELIVERY);
  resend.push(...items.resend);
  release.push(...items.release);
  const sends = [...resend, ...release.map((step) => ({ step, attempt: 1 }))];
  if (sends.length) await deps.dispatcher.dispatch(runRefOf(run, input), plan, sends);

  const counts = { succeeded: 0, failed: 0, skipped: 0 };
  for (const step of steps.values()) {
    if (step.status === StepStatus.SUCCEEDED) counts.succeeded++;
    else if (step.status === StepStatus.FAILED) counts.failed++;
    else if (step.status === StepStatus.SKIPPED) counts.skipped++;
  }
  await deps.store.setRunCounts(run.runId, counts);
  const report = { requeued: resend.length, released: release.length, skipped, counts };
  if (resend.length || release.length || skipped) {
    await deps.store.appendEvent(
      {
        runId: run.runId,
        type: EventType.RUN_RECONCILED,
        message: `reconciled: ${resend.length} message(s) re-sent, ${release.length} step(s) released, ${skipped} skipped`,
        data: { ...report },
      },
      run.expiresAt,
    );
  }
  deps.log.info('run reconciled', { runId: run.runId, ...report });
  return report;
}

/**
 * A step released by its message alone stays WAITING until a worker claims it, so one whose
 * upstream has succeeded may just have its message on the way: it counts as lost (and is
 * queued and sent here) only once its upstream finished `queuedLostSeconds` ago, as a QUEUED one.
 */
function inFlight(
  plan: JobPlan,
  steps: ReadonlyMap<string, StepRecord>,
  key: string,
  now: number,
  limits: ReconcileLimits,
): boolean {
  if (!releasedByMessage(plan, key)) return false;
  const upstream = steps.get(plan.upstream.get(key)?.[0] ?? '');
  const finishedAt = Date.parse(upstream?.finishedAt ?? upstream?.updatedAt ?? '');
  // A map step is expanded by its upstream's worker, maybe for a while: it counts as lost
  // only as late as a RUNNING step would (an expansion checkpoints every batch).
  const lostAfter = isMapStep(plan, key) ? limits.runningLostSeconds : limits.queuedLostSeconds;
  return Number.isFinite(finishedAt) && (now - finishedAt) / 1000 < lostAfter;
}
