import { descendantsOf, type JobPlan } from './dag.ts';
import type { Deps } from './deps.ts';
import type { DispatchItem, RunRef } from './dispatch.ts';
import { EventType } from './status.ts';
import { forEachLimit } from './store/runStore.ts';

const PARALLEL_WRITES = 16;

/**
 * After a step succeeded (and only by the writer that recorded it): count it, then
 * release its dependents. A dependent with one upstream is queued directly; one with
 * several has its pending counter decremented, and the writer that takes it to zero
 * queues it. The WAITING -> QUEUED write has exactly one winner, so each dependent
 * is dispatched once.
 */
export async function releaseDependents(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  stepKey: string,
): Promise<string[]> {
  const ready: string[] = [];
  await forEachLimit(plan.dependents.get(stepKey) ?? [], PARALLEL_WRITES, async (dependent) => {
    const upstreamCount = plan.upstream.get(dependent)?.length ?? 0;
    if (upstreamCount > 1 && (await deps.store.resolveDependency(run.runId, dependent)) > 0) return;
    if ((await deps.store.markQueued(run.runId, dependent)).ok) ready.push(dependent);
  });
  await dispatchFirstAttempts(deps, run, plan, ready);
  return ready;
}

export async function dispatchFirstAttempts(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  steps: readonly string[],
): Promise<void> {
  if (steps.length === 0) return;
  const items: DispatchItem[] = steps.map((step) => ({ step, attempt: 1 }));
  await deps.dispatcher.dispatch(run, plan, items);
}

/**
 * A step failed for good: every step downstream of it can never run. Mark each
 * WAITING descendant SKIPPED (one conditional write each; a descendant already
 * skipped through another failed branch is not counted twice). Returns the count.
 */
export async function skipDownstream(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  failedStep: string,
): Promise<number> {
  const because = `upstream step '${failedStep}' failed`;
  let skipped = 0;
  await forEachLimit(descendantsOf(plan, failedStep), PARALLEL_WRITES, async (key) => {
    if ((await deps.store.markSkipped(runId, key, because)).ok) skipped++;
  });
  if (skipped > 0) {
    await deps.store.addRunCounts(runId, { skipped });
    await deps.store.appendEvent({
      runId,
      type: EventType.STEP_SKIPPED,
      step: failedStep,
      message: `${skipped} downstream step(s) skipped because '${failedStep}' failed`,
      data: { count: skipped },
    });
  }
  return skipped;
}
