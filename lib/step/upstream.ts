import { forEachLimit } from '../concurrency.ts';
import type { Deps } from '../deps.ts';
import { StepOutputMissingError, UpstreamNotSucceededError } from '../errors.ts';
import { isMapStep, type JobPlan, stepSpecOf } from '../job/dag.ts';
import { StepStatus } from '../status.ts';
import type { StepRecord } from '../store/types.ts';
import { mapItemOutputs } from './mapItems.ts';
import { hasOutput, readStepOutput } from './stepOutput.ts';

/**
 * What a step's body gets: its upstream outputs by alias, or for a streaming step an async
 * iterable of them; a map item gets its own item (any JSON value).
 */
export type Upstream = Record<string, unknown> | AsyncIterable<readonly [string, unknown]> | unknown;

const PARALLEL_READS = 16;

/** Upstream steps a streaming step reads at a time (one BatchGetItem). */
const STREAM_PAGE = 100;

/**
 * The step's upstream outputs: an object by alias (from the message when its only upstream
 * carried them, else read), or for a streaming step an async iterable that reads them page
 * by page while the body runs.
 */
export async function loadUpstream(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  step: string,
  carried: Readonly<Record<string, unknown>> | undefined,
  claimed?: StepRecord,
): Promise<Upstream> {
  const spec = stepSpecOf(plan, step);
  if (spec?.itemOf !== undefined) return itemInput(deps, runId, step, claimed);
  const aliases = Object.entries(spec?.dependsOn ?? {});
  if (spec?.streamUpstream) return streamUpstream(deps, runId, plan, step, aliases);
  if (aliases.length === 0) return {};
  if (aliases.some(([, key]) => isMapStep(plan, key)))
    return withMapOutputs(deps, runId, plan, step, aliases);
  const keys = plan.upstream.get(step) ?? [];
  if (carried && keys.every((key) => Object.hasOwn(carried, key))) {
    return Object.fromEntries(aliases.map(([alias, key]) => [alias, carried[key]]));
  }
  const outputs = await readOutputs(deps, runId, step, keys);
  return Object.fromEntries(aliases.map(([alias, key]) => [alias, outputs.get(key)]));
}

/**
 * `[alias, output]` in `dependsOn` order, STREAM_PAGE upstream steps at a time, the next
 * page read while the body works through this one: at most two pages in memory.
 */
async function* streamUpstream(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  step: string,
  aliases: readonly (readonly [string, string])[],
): AsyncGenerator<readonly [string, unknown]> {
  if (aliases.some(([, key]) => isMapStep(plan, key))) {
    // A map upstream yields one entry per item; the others are read around it, in order.
    for (const [alias, key] of aliases) {
      if (isMapStep(plan, key)) {
        for await (const output of mapOutputs(deps, runId, step, key)) yield [alias, output] as const;
      } else {
        yield [alias, (await readOutputs(deps, runId, step, [key])).get(key)] as const;
      }
    }
    return;
  }
  const pages: (readonly (readonly [string, string])[])[] = [];
  for (let i = 0; i < aliases.length; i += STREAM_PAGE) pages.push(aliases.slice(i, i + STREAM_PAGE));
  const read = (page: readonly (readonly [string, string])[]) => {
    const reading = readOutputs(deps, runId, step, [...new Set(page.map(([, key]) => key))]);
    // Awaited in turn below; a failure of a page read ahead must not go unobserved meanwhile.
    reading.catch(() => {});
    return reading;
  };
  let next = pages[0] ? read(pages[0]) : undefined;
  for (let i = 0; i < pages.length; i++) {
    const outputs = await (next as Promise<Map<string, unknown>>);
    const following = pages[i + 1];
    next = following ? read(following) : undefined;
    for (const [alias, key] of pages[i] ?? []) yield [alias, outputs.get(key)] as const;
  }
}

/** The recorded outputs of these upstream steps, each of which must have SUCCEEDED. */
async function readOutputs(
  deps: Deps,
  runId: string,
  step: string,
  keys: readonly string[],
): Promise<Map<string, unknown>> {
  const records = await deps.store.getSteps(runId, keys);
  const outputs = new Map<string, unknown>();
  await forEachLimit([...records.values()], PARALLEL_READS, async (record) => {
    if (record.status !== StepStatus.SUCCEEDED || !hasOutput(record)) {
      throw new UpstreamNotSucceededError(runId, step, record.key, record.status);
    }
    outputs.set(record.key, await readStepOutput(deps.payloads, record));
  });
  for (const key of keys) {
    if (!outputs.has(key)) throw new StepOutputMissingError(runId, key);
  }
  return outputs;
}

/** A map item's input: inline in its step item (its claim returned it), else in S3. */
async function itemInput(deps: Deps, runId: string, step: string, claimed?: StepRecord): Promise<unknown> {
  const record = claimed?.item ? claimed : await deps.store.getStep(runId, step);
  const item = record?.item;
  if (!item) throw new StepOutputMissingError(runId, step);
  return item.inputKey === undefined ? item.input : deps.payloads.getJson(item.inputKey);
}

/** Upstream outputs by alias where some upstream is a map step: its items' outputs as an array. */
async function withMapOutputs(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  step: string,
  aliases: readonly (readonly [string, string])[],
): Promise<Record<string, unknown>> {
  const plain = aliases.filter(([, key]) => !isMapStep(plan, key)).map(([, key]) => key);
  const outputs = plain.length > 0 ? await readOutputs(deps, runId, step, [...new Set(plain)]) : new Map();
  const upstream: Record<string, unknown> = {};
  for (const [alias, key] of aliases) {
    if (!isMapStep(plan, key)) {
      upstream[alias] = outputs.get(key);
      continue;
    }
    const items: unknown[] = [];
    for await (const output of mapOutputs(deps, runId, step, key)) items.push(output);
    upstream[alias] = items;
  }
  return upstream;
}

/** A map upstream's item outputs in item order; the map step must have SUCCEEDED. */
async function* mapOutputs(deps: Deps, runId: string, step: string, map: string): AsyncGenerator<unknown> {
  const record = await deps.store.getStep(runId, map);
  if (record?.status !== StepStatus.SUCCEEDED) {
    throw new UpstreamNotSucceededError(runId, step, map, record?.status ?? StepStatus.WAITING);
  }
  yield* mapItemOutputs(deps, runId, record);
}
