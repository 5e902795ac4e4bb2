import type { Deps } from '../deps.ts';
import { StepStatus } from '../status.ts';
import type { StepRecord } from '../store/types.ts';
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
