import { z } from 'zod';
import { defineJob, type StepRef } from '../../lib/job/defineJob.ts';

/** A small, seeded PRNG (mulberry32): the same seed gives the same DAG and the same faults. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One body execution of one step attempt, as the audit sees it. */
export interface BodyRun {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly startedAt: number;
  /** It took longer than the visibility timeout on purpose. */
  readonly slow: boolean;
  /** The body returned (a thrown step exception leaves it false). */
  finished: boolean;
}

/** Every body execution in this process; the harness reads and clears it. */
export const bodyRuns: BodyRun[] = [];

export const RandomDagInput = z.object({
  seed: z.number().int(),
  steps: z.number().int().min(1).max(10_000),
  /** Upstream steps per step, at most. */
  maxFanIn: z.number().int().min(1).default(3),
  /** Chance a step attempt throws (a transient error; the step has retries). */
  failRate: z.number().min(0).max(1).default(0),
  /** Chance a step takes `slowMs` (longer than a short visibility timeout). */
  slowRate: z.number().min(0).max(1).default(0),
  slowMs: z.number().int().min(0).default(0),
  retries: z.number().int().min(0).default(4),
  /** Chance a step is a map stage (list, map, collect) of 0 to `maxItems` items. */
  mapRate: z.number().min(0).max(1).default(0),
  maxItems: z.number().int().min(0).max(1_000).default(20),
  /** Chance a plain step has a keyed concurrency limit: one of `limitKeys` keys, `limit` each. */
  limitRate: z.number().min(0).max(1).default(0),
  limitKeys: z.number().int().min(1).default(2),
  limit: z.number().int().min(1).default(4),
});
export type RandomDagInput = z.infer<typeof RandomDagInput>;

class InjectedStepError extends Error {
  override readonly name = 'InjectedStepError';
}

/** Logical step i of a random DAG: its upstream steps, and its map's item count when it is a map. */
interface DagNode {
  readonly key: string;
  readonly upstream: readonly string[];
  readonly items?: number;
}

/**
 * The random DAG's shape from its seed: step i depends on up to `maxFanIn` earlier steps,
 * and with chance `mapRate` is a map stage of 0 to `maxItems` items.
 */
function shapeOf(input: RandomDagInput): DagNode[] {
  const next = rng(input.seed);
  const nodes: DagNode[] = [];
  for (let i = 0; i < input.steps; i++) {
    const fanIn = i === 0 ? 0 : 1 + Math.floor(next() * Math.min(input.maxFanIn, i));
    const upstream = new Set<string>();
    for (let k = 0; k < fanIn; k++) upstream.add((nodes[Math.floor(next() * i)] as DagNode).key);
    // Drawn only when maps are on, so a seed without them gives the DAG it always gave.
    const isMap = input.mapRate > 0 && next() < input.mapRate;
    const items = isMap ? Math.floor(next() * (input.maxItems + 1)) : undefined;
    nodes.push({ key: `s${i}`, upstream: [...upstream], ...(items === undefined ? {} : { items }) });
  }
  return nodes;
}

/**
 * A random DAG from a seed: step i returns the sum of its upstream outputs plus one, and
 * may be slow or throw on a given attempt, decided from (seed, step, attempt) so a re-run
 * of the same attempt behaves the same. A map stage i is three steps: `s<i>-list` returns
 * `items` copies of that value, map `s<i>-map` adds one to each item, and `s<i>` sums them.
 * The expected result of every step follows from the DAG alone, so the audit can check
 * the values too.
 */
export const randomDag = defineJob('random-dag', { input: RandomDagInput }, (job, input) => {
  const refs = new Map<string, StepRef<number>>();
  const options = { retries: input.retries, backoff: { baseSeconds: 0.2, maxSeconds: 1 } };
  const body =
    <T, R>(compute: (value: T) => R) =>
    async (value: T, ctx: { runId: string; stepKey: string; attempt: number }) => {
      const dice = rng(hash(`${input.seed}/${ctx.stepKey}/${ctx.attempt}`));
      const slow = dice() < input.slowRate;
      const run: BodyRun = {
        runId: ctx.runId,
        step: ctx.stepKey,
        attempt: ctx.attempt,
        startedAt: Date.now(),
        slow,
        finished: false,
      };
      bodyRuns.push(run);
      if (slow) await new Promise((resolve) => setTimeout(resolve, input.slowMs));
      // Never on the last attempt: the injected errors are transient, so every run can succeed.
      if (ctx.attempt <= input.retries && dice() < input.failRate) {
        throw new InjectedStepError(`injected failure of ${ctx.stepKey} attempt ${ctx.attempt}`);
      }
      run.finished = true;
      return compute(value);
    };
  const sum = (values: unknown) => Object.values(values as Record<string, number>).reduce((a, b) => a + b, 1);
  for (const node of shapeOf(input)) {
    const dependsOn = Object.fromEntries(node.upstream.map((key) => [key, refs.get(key) as StepRef<number>]));
    if (node.items === undefined) {
      const concurrency = limitOf(input, node.key);
      refs.set(
        node.key,
        job.step(node.key, { ...options, dependsOn, ...(concurrency ? { concurrency } : {}) }, body(sum)),
      );
      continue;
    }
    const items = node.items;
    const list = job.step(
      `${node.key}-list`,
      { ...options, dependsOn },
      body((values) => Array.from({ length: items }, () => sum(values))),
    );
    const mapped = job.map(
      `${node.key}-map`,
      { ...options, over: list },
      body((item: number) => item + 1),
    );
    refs.set(
      node.key,
      job.step(
        node.key,
        { ...options, dependsOn: { mapped } },
        body(({ mapped }: { mapped: number[] }) => mapped.reduce((a, b) => a + b, 0)),
      ),
    );
  }
});

/**
 * The keyed concurrency limit of plain step `key`, if it has one: drawn from its own hash,
 * not the shape's generator, so a seed gives the DAG it always gave.
 */
function limitOf(input: RandomDagInput, key: string): { key: string; limit: number } | undefined {
  const dice = rng(hash(`${input.seed}/${key}/limit`));
  if (!(dice() < input.limitRate)) return undefined;
  return { key: `sim-${Math.floor(dice() * input.limitKeys)}`, limit: input.limit };
}

/** Each logical step's expected output: 1 + the sum of its upstream outputs (a map stage: items × (that + 1)). */
export function expectedOutputs(input: RandomDagInput): Map<string, number> {
  const values = new Map<string, number>();
  for (const node of shapeOf(input)) {
    const value = node.upstream.reduce((total, up) => total + (values.get(up) ?? Number.NaN), 1);
    values.set(node.key, node.items === undefined ? value : node.items * (value + 1));
  }
  return values;
}

/** Steps a run of `input` has in all (map items included), and its map stages and their items. */
export function sizeOf(input: RandomDagInput): { steps: number; maps: number; items: number } {
  const maps = shapeOf(input).filter((node) => node.items !== undefined);
  const items = maps.reduce((total, node) => total + (node.items ?? 0), 0);
  return { steps: input.steps + 2 * maps.length + items, maps: maps.length, items };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
