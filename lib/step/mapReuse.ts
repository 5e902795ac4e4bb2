import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import { StepStatus } from '../status.ts';
import type { StepRecord } from '../store/types.ts';
import type { RunRef } from './dispatch.ts';
import { mapItemRecords } from './mapItems.ts';
import { hasOutput } from './stepOutput.ts';

/**
 * A rerun's map step (`reuseItemsFrom`, set by lib/run/rerun.ts when its list is reused):
 * the items that succeeded in the parent run, by index, whose outputs the new run reuses;
 * the others run. Keys are matched, so a key function's names carry over. The parent is
 * finished, so a resumed expansion reads the same answer.
 */
export async function reusedItems(
  deps: Pick<Deps, 'store' | 'payloads'>,
  node: StepRecord,
  keys: readonly string[],
): Promise<Map<number, StepRecord>> {
  const reused = new Map<number, StepRecord>();
  if (node.reuseItemsFrom === undefined) return reused;
  const parent = await deps.store.getStep(node.reuseItemsFrom, node.key);
  if (!parent?.map) return reused;
  const index = new Map(keys.map((key, i) => [key, i]));
  for await (const item of mapItemRecords(deps, node.reuseItemsFrom, node.key, parent.map)) {
    const i = item ? index.get(item.key) : undefined;
    if (i !== undefined && item?.status === StepStatus.SUCCEEDED && hasOutput(item)) reused.set(i, item);
  }
  return reused;
}

/** A reused item's step in the new run: SUCCEEDED with the parent's output (its pointer, when in S3). */
export function reusedItemRecord(
  runId: string,
  parentRunId: string,
  parentItem: StepRecord,
  item: NonNullable<StepRecord['item']>,
  now: string,
): StepRecord {
  return {
    runId,
    key: parentItem.key,
    status: StepStatus.SUCCEEDED,
    attempt: parentItem.attempt,
    pending: 0,
    ...(parentItem.outputKey ? { outputKey: parentItem.outputKey } : { output: parentItem.output }),
    reusedFrom: parentItem.reusedFrom ?? parentRunId,
    item,
    finishedAt: now,
    updatedAt: now,
  };
}

/** Reused item keys a map's STEP_REUSED event lists (each reused item says so itself: `reusedFrom`). */
const LISTED_REUSED = 100;

/**
 * One STEP_REUSED event for a map's reused items, not one per item: a map reusing 100,000
 * items would otherwise write 100,000 events (4,000 batch requests) that say what its items
 * already record. Written by the expansion whose countMapItems added the items (once per map).
 */
export async function recordReusedItems(
  deps: Pick<Deps, 'store'>,
  run: RunRef,
  map: StepRecord,
  reusedKeys: readonly string[],
): Promise<void> {
  const parentRunId = map.reuseItemsFrom as string;
  const listed = reusedKeys.slice(0, LISTED_REUSED);
  await deps.store.appendEvent(
    {
      runId: run.runId,
      type: EventType.STEP_REUSED,
      step: map.key,
      message: `${reusedKeys.length} item(s) of '${map.key}' reuse the outputs of run ${parentRunId}: ${listed.slice(0, 20).join(', ')}${reusedKeys.length > 20 ? ', …' : ''}`,
      data: { parentRunId, count: reusedKeys.length, steps: listed },
    },
    run.expiresAt,
  );
}
