import type { Deps } from '../deps.ts';
import type { JobPlan } from '../job/dag.ts';
import { StepStatus } from '../status.ts';
import { currentAttemptOf, type DispatchItem } from '../step/dispatch.ts';
import { firstItems } from '../step/mapExpansion.ts';
import type { StepRecord } from '../store/types.ts';

/**
 * Map items reconciliation finds lost (they are not in the plan): a QUEUED or RUNNING one
 * idle too long, whose message is re-sent; and a WAITING one that should have been sent by
 * now, which is queued (as reconciliation's, `releasedBy`) and sent: the next of its lane
 * once the item before it ended `queuedLostSeconds` ago, or one of the first items of an
 * expansion done that long ago. A message that was only slow makes a duplicate, which the
 * claim absorbs.
 */
export async function lostItems(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  steps: ReadonlyMap<string, StepRecord>,
  now: number,
  limits: { readonly queuedLostSeconds: number; readonly runningLostSeconds: number },
  delivery: string,
): Promise<{ resend: DispatchItem[]; release: string[] }> {
  const ago = (at: string | undefined) => (now - Date.parse(at ?? '')) / 1000;
  const resend: DispatchItem[] = [];
  const due = new Set<string>();
  for (const step of steps.values()) {
    const item = step.item;
    if (!item) continue;
    const idle = ago(step.updatedAt);
    if (
      (step.status === StepStatus.QUEUED && idle >= limits.queuedLostSeconds) ||
      (step.status === StepStatus.RUNNING && idle >= limits.runningLostSeconds)
    ) {
      resend.push(currentAttemptOf(step));
    }
    const ended = step.status === StepStatus.SUCCEEDED || step.status === StepStatus.FAILED;
    if (ended && item.next !== undefined && ago(step.finishedAt) >= limits.queuedLostSeconds)
      due.add(item.next);
    const expansion = steps.get(item.map)?.map;
    const spec = plan.steps.get(item.map)?.map;
    // The first items of a map that runs all of them (a rerun's skip the reused ones).
    if (
      spec &&
      expansion?.expandedAt !== undefined &&
      expansion.running === expansion.items &&
      item.index < firstItems(spec, expansion.items) &&
      ago(expansion.expandedAt) >= limits.queuedLostSeconds
    ) {
      due.add(step.key);
    }
  }
  const release: string[] = [];
  for (const key of due) {
    if (steps.get(key)?.status !== StepStatus.WAITING) continue;
    if ((await deps.store.markQueued(runId, key, delivery)).ok) release.push(key);
  }
  return { resend, release };
}
