/**
 * A map step's items as a whole: their keys in item order, their outputs page by page, and
 * the map step's end once its last item has ended (succeeded or failed for good): SUCCEEDED
 * with `{ items, failed }` when no more failed than it tolerates, else FAILED.
 */
import type { Deps } from '../deps.ts';
import { ErrorCode, MapItemsFailedError, serializeError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import type { JobPlan } from '../job/dag.ts';
import { itemKeyOf, type MapSpec, toleratedFailures } from '../job/mapStep.ts';
import { abortRun } from '../run/abort.ts';
import { StepStatus } from '../status.ts';
import type { MapExpansion, StepRecord } from '../store/types.ts';
import type { RunRef } from './dispatch.ts';
import { readStepOutput } from './stepOutput.ts';

/** Item steps read at a time (one BatchGetItem). */
const ITEM_PAGE = 100;

/** The output of a map step that ended SUCCEEDED (its items' outputs are theirs). */
export interface MapSummary {
  readonly items: number;
  readonly failed: number;
}

/** A map's item keys in item order: `map[i]`, or the key function's, kept in S3 at expansion. */
export async function mapItemKeys(deps: Pick<Deps, 'payloads'>, map: string, expansion: MapExpansion) {
  if (expansion.keysKey) return deps.payloads.getJson<string[]>(expansion.keysKey);
  return Array.from({ length: expansion.items }, (_, i) => itemKeyOf(map, i));
}

/** Item step records in item order, ITEM_PAGE at a time, the next page read while this one is used. */
export async function* mapItemRecords(
  deps: Pick<Deps, 'store' | 'payloads'>,
  runId: string,
  map: string,
  expansion: MapExpansion,
): AsyncGenerator<StepRecord | undefined> {
  const keys = await mapItemKeys(deps, map, expansion);
  const read = (start: number) => {
    const reading = deps.store.getSteps(runId, keys.slice(start, start + ITEM_PAGE));
    // Awaited in turn below; a failed read ahead must not go unobserved meanwhile.
    reading.catch(() => {});
    return reading;
  };
  let next = keys.length > 0 ? read(0) : undefined;
  for (let start = 0; start < keys.length; start += ITEM_PAGE) {
    const records = await (next as Promise<Map<string, StepRecord>>);
    next = start + ITEM_PAGE < keys.length ? read(start + ITEM_PAGE) : undefined;
    for (const key of keys.slice(start, start + ITEM_PAGE)) yield records.get(key);
  }
}

/** The outputs of a map's succeeded items, in item order (a failed item it tolerated has none). */
export async function* mapItemOutputs(
  deps: Pick<Deps, 'store' | 'payloads'>,
  runId: string,
  map: StepRecord,
): AsyncGenerator<unknown> {
  if (!map.map) return;
  // A map step a rerun reused has its items in the run that ran them.
  for await (const item of mapItemRecords(deps, map.reusedFrom ?? runId, map.key, map.map)) {
    if (item?.status === StepStatus.SUCCEEDED) yield await readStepOutput(deps.payloads, item);
  }
}

/**
 * Every item of the map has ended: count the failed ones and end the map step (one
 * conditional write, one winner; the winner counts it on the run and writes its event).
 * Returns the map step's final status, also when it had ended before (a redelivery
 * finishing a release), for the caller to release or skip what depends on it.
 */
export async function endMap(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  mapKey: string,
): Promise<StepStatus | undefined> {
  const node = await deps.store.getStep(run.runId, mapKey);
  if (node?.status === StepStatus.SUCCEEDED || node?.status === StepStatus.FAILED) return node.status;
  if (node?.status !== StepStatus.RUNNING || !node.map) return undefined;
  let failed = 0;
  for await (const item of mapItemRecords(deps, run.runId, mapKey, node.map)) {
    if (item?.status !== StepStatus.SUCCEEDED) failed++;
  }
  const spec = plan.steps.get(mapKey)?.map as MapSpec;
  const tolerated = toleratedFailures(spec, node.map.items);
  if (failed > tolerated) {
    return failMap(deps, run, mapKey, new MapItemsFailedError(mapKey, failed, node.map.items, tolerated));
  }
  const summary: MapSummary = { items: node.map.items, failed };
  const started = Date.parse(node.startedAt ?? node.updatedAt);
  const recorded = await deps.store.recordSuccess(
    run.runId,
    mapKey,
    1,
    { output: summary },
    Date.now() - started,
  );
  if (!recorded.ok) return recorded.current?.status;
  await deps.store.addRunCounts(run.runId, { succeeded: 1 });
  await deps.store.appendEvent(
    {
      runId: run.runId,
      type: EventType.STEP_SUCCESS,
      step: mapKey,
      attempt: 1,
      message: `${summary.items} item(s) ended, ${failed} failed`,
      data: { ...summary },
    },
    run.expiresAt,
  );
  return StepStatus.SUCCEEDED;
}

/** The map step fails (too many items failed, or its list is not one): counted, its event, a fail-fast job stopped. */
export async function failMap(
  deps: Deps,
  run: RunRef,
  mapKey: string,
  error: Error,
): Promise<StepStatus | undefined> {
  const serialized = serializeError(error);
  const recorded = await deps.store.recordFailure(run.runId, mapKey, 1, serialized);
  if (!recorded.ok) return recorded.current?.status;
  const runError = {
    step: mapKey,
    name: serialized.name,
    message: serialized.message,
    ...(serialized.code ? { code: serialized.code } : {}),
  };
  await deps.store.addRunCounts(run.runId, { failed: 1 }, runError);
  await deps.store.appendEvent(
    {
      runId: run.runId,
      type: EventType.STEP_FAILURE,
      step: mapKey,
      attempt: 1,
      message: `${serialized.name}: ${serialized.message}`,
      data: { error: serialized },
    },
    run.expiresAt,
  );
  if (deps.registry.get(run.job).failFast) {
    await abortRun(deps, run.runId, {
      ...runError,
      code: ErrorCode.FAIL_FAST,
      message: `step '${mapKey}' failed and the job is fail-fast: ${serialized.message}`,
    });
  }
  return StepStatus.FAILED;
}
