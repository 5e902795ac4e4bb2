/**
 * The list a map step expands over, with its item keys in item order: its upstream step's
 * output (`process[i]`), or for a map nested in a map the elements of each of the outer
 * map's succeeded items' outputs, flat in (outer item, element) order (`inner[i][j]`).
 * Deterministic: a resumed expansion reads the same list and keys again.
 */
import type { Deps } from '../deps.ts';
import { MapItemsInvalidError } from '../errors.ts';
import { itemKeyOf, itemKeys, itemLabelOf, MAX_MAP_ITEMS, type MapSpec } from '../job/mapStep.ts';
import { StepStatus } from '../status.ts';
import type { StepResult } from '../store/runStore.ts';
import { mapItemRecords } from './mapItems.ts';
import { readStepOutput } from './stepOutput.ts';

/** A map's items and their keys, or why it cannot map them (the map step fails with it). */
export type MapList =
  | { readonly items: readonly unknown[]; readonly keys: readonly string[] }
  | { readonly error: MapItemsInvalidError };

/** The list of map step `mapKey` (`result`: its upstream's, when the caller has it); `nested`: it maps a map's items. */
export async function readMapList(
  deps: Pick<Deps, 'store' | 'payloads'>,
  runId: string,
  mapKey: string,
  spec: MapSpec,
  nested: boolean,
  result?: StepResult,
): Promise<MapList> {
  if (nested) return readNestedList(deps, runId, mapKey, spec);
  const list = await readOutput(deps, runId, spec.over, result);
  if (!Array.isArray(list)) {
    const what = list === null ? 'null' : typeof list;
    return { error: new MapItemsInvalidError(mapKey, `step '${spec.over}' returned ${what}, not an array`) };
  }
  const tooMany = checkCount(mapKey, list.length);
  return tooMany ?? keyed(mapKey, list, () => itemKeys(mapKey, spec, list));
}

/** The elements of each succeeded item of the outer map, flat, keyed `mapKey[<outer label>][j]`. */
async function readNestedList(
  deps: Pick<Deps, 'store' | 'payloads'>,
  runId: string,
  mapKey: string,
  spec: MapSpec,
): Promise<MapList> {
  const outer = await deps.store.getStep(runId, spec.over);
  if (!outer?.map) return { items: [], keys: [] };
  const items: unknown[] = [];
  const keys: string[] = [];
  // A reused outer map (a rerun's) has its items in the run that ran them.
  for await (const item of mapItemRecords(deps, outer.reusedFrom ?? runId, spec.over, outer.map)) {
    // A failed item the outer map tolerated has no output, so nothing to map.
    if (item?.status !== StepStatus.SUCCEEDED) continue;
    const elements = await readStepOutput(deps.payloads, item);
    if (!Array.isArray(elements)) {
      const what = elements === null ? 'null' : typeof elements;
      return {
        error: new MapItemsInvalidError(
          mapKey,
          `item '${item.key}' of '${spec.over}' returned ${what}, not an array`,
        ),
      };
    }
    const tooMany = checkCount(mapKey, items.length + elements.length);
    if (tooMany) return tooMany;
    const prefix = itemKeyOf(mapKey, itemLabelOf(spec.over, item.key));
    const named = keyed(mapKey, elements, () => itemKeys(mapKey, spec, elements, prefix));
    if ('error' in named) return named;
    items.push(...elements);
    keys.push(...named.keys);
  }
  return { items, keys };
}

const checkCount = (mapKey: string, count: number): MapList | undefined =>
  count > MAX_MAP_ITEMS
    ? {
        error: new MapItemsInvalidError(
          mapKey,
          `its list has ${count} items; a map takes at most ${MAX_MAP_ITEMS}`,
        ),
      }
    : undefined;

/** The items with their keys, or the key function's error (an invalid or repeated key). */
function keyed(mapKey: string, items: readonly unknown[], keysOf: () => string[]): MapList {
  try {
    return { items, keys: keysOf() };
  } catch (error) {
    if (!(error instanceof MapItemsInvalidError) || error.step !== mapKey) throw error;
    return { error };
  }
}

async function readOutput(
  deps: Pick<Deps, 'store' | 'payloads'>,
  runId: string,
  over: string,
  result?: StepResult,
): Promise<unknown> {
  if (result) return 'output' in result ? result.output : deps.payloads.getJson(result.outputKey);
  const upstream = await deps.store.getStep(runId, over);
  return upstream ? readStepOutput(deps.payloads, upstream) : undefined;
}
