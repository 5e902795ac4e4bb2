/**
 * A map step's expansion, by the worker that recorded its upstream step's output (or a
 * redelivery of it, which resumes): the item steps written in batches, then the first items
 * sent (all of them, or `maxConcurrency`; each item that ends sends the next in its lane).
 *
 * Each phase is checkpointed on the map step (`map.written`, `map.dispatched`), so a crash
 * mid-expansion is resumed where it stopped. Two expansions of one map may overlap (the
 * upstream's delivery, only slow, and reconciliation's re-send of the map step): items and
 * shards are created only where absent (createSteps), so a late write resets nothing; sends
 * repeated are absorbed by the items' claims; the item count is added once (countMapItems).
 */
import { forEachLimit } from '../concurrency.ts';
import type { Deps } from '../deps.ts';
import { isNestedMap, type JobPlan } from '../job/dag.ts';
import type { MapSpec } from '../job/mapStep.ts';
import { Runtime } from '../job/runtime.ts';
import { StepStatus } from '../status.ts';
import { s3Keys } from '../store/keys.ts';
import type { StepResult } from '../store/runStore.ts';
import type { MapExpansion, MapItem, StepRecord } from '../store/types.ts';
import type { RunRef } from './dispatch.ts';
import { initialPending } from './fanIn.ts';
import { endMap, failMap } from './mapItems.ts';
import { readMapList } from './mapList.ts';
import { recordReusedItems, reusedItemRecord, reusedItems } from './mapReuse.ts';

/** Item steps written per checkpoint (BatchWriteItem takes 25 a request). */
export const EXPANSION_BATCH = 500;
/** An item's input up to this size (as JSON) lives in its step item; a larger one in S3. */
const INLINE_ITEM_BYTES = 2048;
/** Large item inputs put to S3 at a time. */
const PARALLEL_PUTS = 16;

/**
 * Expand map step `mapKey` over its upstream's output (`result` when the caller has it).
 * Returns the map step's status when it ended here (an empty list, or one it cannot map).
 */
export async function expandMap(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  mapKey: string,
  result?: StepResult,
): Promise<StepStatus | undefined> {
  const spec = plan.steps.get(mapKey)?.map as MapSpec;
  let node = await deps.store.getStep(run.runId, mapKey);
  const unexpanded = node?.status === StepStatus.WAITING || node?.status === StepStatus.QUEUED;
  if (!node || (!unexpanded && node.status !== StepStatus.RUNNING)) return undefined;
  // Fully expanded: nothing to resume (a map with no item to run ends again, idempotently).
  if (node.map && node.map.running > 0 && node.map.dispatched >= firstItems(spec, node.map.running))
    return undefined;

  const list = await readMapList(deps, run.runId, mapKey, spec, isNestedMap(plan, mapKey), result);
  const error = 'error' in list ? list.error : undefined;
  const items = 'error' in list ? [] : list.items;
  const keys = 'error' in list ? [] : list.keys;
  const reused = error ? new Map<number, StepRecord>() : await reusedItems(deps, node, keys);
  const toRun = items.flatMap((_, i) => (reused.has(i) ? [] : [i]));

  if (unexpanded) {
    // Keys a key function named, or a nested map's (`inner[i][j]`), are kept: not derivable from the count.
    const named = (spec.itemKey !== undefined || isNestedMap(plan, mapKey)) && !error;
    node = await begin(deps, run, mapKey, items.length, toRun.length, reused, named ? keys : undefined);
    if (node?.status !== StepStatus.RUNNING || !node.map) return undefined;
  }
  if (error) return failMap(deps, run, mapKey, error);
  const counted = await deps.store.countMapItems(run.runId, mapKey, items.length, reused.size);
  if (counted && reused.size > 0) {
    const reusedKeys = keys.filter((_, i) => reused.has(i));
    await recordReusedItems(deps, run, node as StepRecord, reusedKeys);
  }
  if (toRun.length === 0) return endMap(deps, run, plan, mapKey);

  const first = firstItems(spec, toRun.length);
  // Each item that runs sends the one `first` places after it among those that run (its lane).
  const nextOf = new Map(toRun.map((i, place) => [i, keys[toRun[place + first] as number]]));
  let progress = node.map as MapExpansion;
  const now = new Date().toISOString();
  for (let start = progress.written; start < items.length; start += EXPANSION_BATCH) {
    const end = Math.min(start + EXPANSION_BATCH, items.length);
    const records: StepRecord[] = [];
    await forEachLimit(range(start, end), PARALLEL_PUTS, async (i) => {
      const place = { map: mapKey, index: i, count: items.length };
      const parentItem = reused.get(i);
      records.push(
        parentItem
          ? reusedItemRecord(run.runId, node?.reuseItemsFrom as string, parentItem, place, now)
          : await itemRecord(deps, run.runId, keys[i] as string, place, nextOf.get(i), items[i], now),
      );
    });
    // Created only where absent: another expansion of this map (one re-sent while this one
    // was only slow) may have written them and sent them on; a late write must not reset them.
    await deps.store.createSteps(records, [], run.expiresAt);
    progress = { ...progress, written: end };
    // A map no longer RUNNING (the run was canceled) is expanded no further.
    if (!(await deps.store.recordExpansion(run.runId, mapKey, progress)).ok) return undefined;
  }
  const ecs = plan.steps.get(mapKey)?.options.runtime === Runtime.ECS;
  for (let start = progress.dispatched; start < first; start += EXPANSION_BATCH) {
    const end = Math.min(start + EXPANSION_BATCH, first);
    const send: string[] = [];
    for (const i of toRun.slice(start, end)) {
      const key = keys[i] as string;
      // An ECS step is sent QUEUED (its launch and supervision go by it); a Lambda item is
      // released by its message alone, claimed from WAITING.
      if (!ecs || (await deps.store.markQueued(run.runId, key, 'expansion')).ok) send.push(key);
    }
    if (send.length > 0) {
      await deps.dispatcher.dispatch(
        run,
        plan,
        send.map((step) => ({ step, attempt: 1 })),
      );
    }
    progress = {
      ...progress,
      dispatched: end,
      ...(end === first ? { expandedAt: new Date().toISOString() } : {}),
    };
    // A map no longer RUNNING (the run was canceled) is expanded no further.
    if (!(await deps.store.recordExpansion(run.runId, mapKey, progress)).ok) return undefined;
  }
  return undefined;
}

/** Items sent at expansion, of those that run: all, or the first `maxConcurrency`. */
export const firstItems = (spec: MapSpec, running: number) =>
  Math.min(spec.maxConcurrency ?? running, running);

/** WAITING -> RUNNING with the item count and the fan-in its running items count down (its shards first). */
async function begin(
  deps: Deps,
  run: RunRef,
  mapKey: string,
  items: number,
  running: number,
  reused: ReadonlyMap<number, StepRecord>,
  namedKeys: readonly string[] | undefined,
): Promise<StepRecord | undefined> {
  const fanIn = initialPending(run.runId, mapKey, items, (i) => !reused.has(i));
  // Created only where absent: a slow expansion's late write must not reset a shard that
  // another expansion's items have since counted down.
  if (fanIn.shards.length > 0) await deps.store.createSteps([], fanIn.shards, run.expiresAt);
  let keysKey: string | undefined;
  if (namedKeys) {
    keysKey = s3Keys.mapItemKeys(run.runId, mapKey);
    await deps.payloads.putJson(keysKey, namedKeys);
  }
  const expansion: MapExpansion = {
    items,
    running,
    written: 0,
    dispatched: 0,
    ...(keysKey ? { keysKey } : {}),
  };
  const begun = await deps.store.beginExpansion(run.runId, mapKey, expansion, fanIn.pending);
  return begun.ok ? begun.item : begun.current;
}

/** An item's step: WAITING, its place in the map and lane, its input inline or in S3. */
async function itemRecord(
  deps: Deps,
  runId: string,
  key: string,
  place: Pick<MapItem, 'map' | 'index' | 'count'>,
  next: string | undefined,
  input: unknown,
  now: string,
): Promise<StepRecord> {
  const value = input === undefined ? null : input;
  const json = JSON.stringify(value);
  let where: Pick<MapItem, 'input' | 'inputKey'> = { input: value };
  if (Buffer.byteLength(json) > INLINE_ITEM_BYTES) {
    const inputKey = s3Keys.mapItemInput(runId, place.map, place.index);
    await deps.payloads.putText(inputKey, json);
    where = { inputKey };
  }
  return {
    runId,
    key,
    status: StepStatus.WAITING,
    attempt: 1,
    pending: 0,
    item: { ...place, ...(next === undefined ? {} : { next }), ...where },
    updatedAt: now,
  };
}

const range = (start: number, end: number) => Array.from({ length: end - start }, (_, i) => start + i);
