/**
 * A map step's expansion, by the worker that recorded its upstream step's output (or a
 * redelivery of it, which resumes): the item steps written in batches, then the first items
 * sent (all of them, or `maxConcurrency`; each item that ends sends the next in its lane).
 *
 * Each phase is checkpointed on the map step (`map.written`, `map.dispatched`), so a crash
 * mid-expansion is resumed where it stopped: a batch of items is (re)written only while
 * none of it has been sent, and a batch of sends repeated after a crash is absorbed by the
 * items' claims. One delivery at a time holds the upstream attempt (its idempotency record),
 * so two expansions of one map do not overlap.
 */
import type { Deps } from '../deps.ts';
import { MapItemsInvalidError } from '../errors.ts';
import type { JobPlan } from '../job/dag.ts';
import { itemKeys, MAX_MAP_ITEMS, type MapSpec } from '../job/mapStep.ts';
import { Runtime } from '../job/runtime.ts';
import { StepStatus } from '../status.ts';
import { s3Keys } from '../store/keys.ts';
import type { StepResult } from '../store/runStore.ts';
import type { MapExpansion, MapItem, StepRecord } from '../store/types.ts';
import type { RunRef } from './dispatch.ts';
import { initialPending } from './fanIn.ts';
import { endMap, failMap } from './mapItems.ts';
import { readStepOutput } from './stepOutput.ts';

/** Item steps written per checkpoint (BatchWriteItem takes 25 a request). */
export const EXPANSION_BATCH = 500;
/** An item's input up to this size (as JSON) lives in its step item; a larger one in S3. */
const INLINE_ITEM_BYTES = 2048;

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
  if (node?.status !== StepStatus.WAITING && node?.status !== StepStatus.RUNNING) return undefined;
  // Fully expanded: nothing to resume (an empty map's end is made again, which is idempotent).
  if (node.map && node.map.items > 0 && node.map.dispatched >= firstItems(spec, node.map.items))
    return undefined;

  const list = await readList(deps, run.runId, spec.over, result);
  const invalid = Array.isArray(list)
    ? list.length > MAX_MAP_ITEMS
      ? `its list has ${list.length} items; a map takes at most ${MAX_MAP_ITEMS}`
      : undefined
    : `step '${spec.over}' returned ${list === null ? 'null' : typeof list}, not an array`;
  let keys: string[] = [];
  let error: Error | undefined = invalid ? new MapItemsInvalidError(mapKey, invalid) : undefined;
  if (!error) {
    try {
      keys = itemKeys(mapKey, spec, list as unknown[]);
    } catch (keyError) {
      if (!(keyError instanceof MapItemsInvalidError)) throw keyError;
      error = keyError;
    }
  }
  const items = list as unknown[];

  if (node.status === StepStatus.WAITING) {
    node = await begin(deps, run, mapKey, error ? 0 : items.length, spec.itemKey ? keys : undefined);
    if (node?.status !== StepStatus.RUNNING || !node.map) return undefined;
  }
  if (error) return failMap(deps, run, mapKey, error);
  await deps.store.countMapItems(run.runId, mapKey, items.length);
  if (items.length === 0) return endMap(deps, run, plan, mapKey);

  let progress = node.map as MapExpansion;
  for (let start = progress.written; start < items.length; start += EXPANSION_BATCH) {
    const end = Math.min(start + EXPANSION_BATCH, items.length);
    const records: StepRecord[] = [];
    for (let i = start; i < end; i++) {
      records.push(await itemRecord(deps, run.runId, mapKey, spec, keys, items, i));
    }
    await deps.store.putSteps(records, [], run.expiresAt);
    progress = { ...progress, written: end };
    await deps.store.recordExpansion(run.runId, mapKey, progress);
  }
  const first = firstItems(spec, items.length);
  const ecs = plan.steps.get(mapKey)?.options.runtime === Runtime.ECS;
  for (let start = progress.dispatched; start < first; start += EXPANSION_BATCH) {
    const end = Math.min(start + EXPANSION_BATCH, first);
    const send: string[] = [];
    for (const key of keys.slice(start, end)) {
      // An ECS step is sent QUEUED (its launch and supervision go by it); a Lambda item is
      // released by its message alone, claimed from WAITING.
      if (!ecs || (await deps.store.markQueued(run.runId, key, 'expansion')).ok) send.push(key);
    }
    if (send.length > 0)
      await deps.dispatcher.dispatch(
        run,
        plan,
        send.map((step) => ({ step, attempt: 1 })),
      );
    progress = { ...progress, dispatched: end };
    await deps.store.recordExpansion(run.runId, mapKey, progress);
  }
  return undefined;
}

/** Items sent at expansion: all, or the first `maxConcurrency`. */
export const firstItems = (spec: MapSpec, items: number) => Math.min(spec.maxConcurrency ?? items, items);

/** WAITING -> RUNNING with the item count and the fan-in its items count down (its shards first). */
async function begin(
  deps: Deps,
  run: RunRef,
  mapKey: string,
  items: number,
  namedKeys: string[] | undefined,
): Promise<StepRecord | undefined> {
  const fanIn = initialPending(run.runId, mapKey, items, () => true);
  // Nothing is sent before the step is RUNNING: (re)writing its shards is safe until then.
  if (fanIn.shards.length > 0) await deps.store.putSteps([], fanIn.shards, run.expiresAt);
  let keysKey: string | undefined;
  if (namedKeys) {
    keysKey = s3Keys.mapItemKeys(run.runId, mapKey);
    await deps.payloads.putJson(keysKey, namedKeys);
  }
  const expansion: MapExpansion = { items, written: 0, dispatched: 0, ...(keysKey ? { keysKey } : {}) };
  const begun = await deps.store.beginExpansion(run.runId, mapKey, expansion, fanIn.pending);
  return begun.ok ? begun.item : begun.current;
}

async function readList(deps: Deps, runId: string, over: string, result?: StepResult): Promise<unknown> {
  if (result) return 'output' in result ? result.output : deps.payloads.getJson(result.outputKey);
  const upstream = await deps.store.getStep(runId, over);
  return upstream ? readStepOutput(deps.payloads, upstream) : undefined;
}

/** Item i's step: WAITING, its place in the map and lane, its input inline or in S3. */
async function itemRecord(
  deps: Deps,
  runId: string,
  mapKey: string,
  spec: MapSpec,
  keys: readonly string[],
  items: readonly unknown[],
  index: number,
): Promise<StepRecord> {
  const value = items[index] === undefined ? null : items[index];
  const json = JSON.stringify(value);
  const next = keys[index + firstItems(spec, items.length)];
  let input: Pick<MapItem, 'input' | 'inputKey'> = { input: value };
  if (Buffer.byteLength(json) > INLINE_ITEM_BYTES) {
    const inputKey = s3Keys.mapItemInput(runId, mapKey, index);
    await deps.payloads.putText(inputKey, json);
    input = { inputKey };
  }
  const now = new Date().toISOString();
  return {
    runId,
    key: keys[index] as string,
    status: StepStatus.WAITING,
    attempt: 1,
    pending: 0,
    item: { map: mapKey, index, count: items.length, ...(next === undefined ? {} : { next }), ...input },
    updatedAt: now,
  };
}
