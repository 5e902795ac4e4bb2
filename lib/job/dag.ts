import { InvalidJobError } from '../errors.ts';
import { checkMapSpec, type MapSpec, mapOfItem } from './mapStep.ts';
import { priorityProblem } from './priority.ts';
import { OnLambdaTimeout, Runtime } from './runtime.ts';
import type { StepFn, StepOptions } from './stepTypes.ts';

export interface StepSpec {
  readonly key: string;
  /** alias (name of the output in the step function's argument) -> upstream step key */
  readonly dependsOn: Readonly<Record<string, string>>;
  readonly options: StepOptions;
  readonly run: StepFn<unknown, unknown>;
  /** Its function takes its upstream outputs as an async iterable, read page by page. */
  readonly streamUpstream?: boolean;
  /** A map step: `run` runs once per item of its one upstream step's output (lib/job/mapStep.ts). */
  readonly map?: MapSpec;
  /** Set on a map item's spec (stepSpecOf): the map step it is an item of. */
  readonly itemOf?: string;
}

/** A validated DAG for one run: steps, their dependents, a topological order. */
export interface JobPlan {
  readonly job: string;
  readonly steps: ReadonlyMap<string, StepSpec>;
  /** Keys in a topological order (every step after its upstream). */
  readonly order: readonly string[];
  readonly dependents: ReadonlyMap<string, readonly string[]>;
  /** Distinct upstream keys per step. */
  readonly upstream: ReadonlyMap<string, readonly string[]>;
  /**
   * Where each upstream step sits in its dependent's `upstream` list (the index a fan-in's
   * release records), for steps with several: a lookup, not a scan of 10,000 keys per release.
   */
  readonly upstreamIndex: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly roots: readonly string[];
  /** Steps nothing depends on: their outputs are the run's result. */
  readonly sinks: readonly string[];
  /** The job's fairness key for this run's input (lib/job/fairness.ts); absent: the run id. */
  readonly fairnessKey?: string;
}

/** Step keys appear in S3 keys, DynamoDB sort keys and idempotency keys: keep them plain. */
export const STEP_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/**
 * Steps in one run's plan: 100,000, the widest fan-out `npm run bench -- --cases scale` runs
 * (every worker that loads the plan builds it whole, in a Lambda's memory).
 */
export const MAX_STEPS = 100_000;

export function buildPlan(job: string, specs: readonly StepSpec[]): JobPlan {
  if (specs.length === 0) throw new InvalidJobError(job, 'has no steps; define at least one with job.step()');
  if (specs.length > MAX_STEPS) {
    throw new InvalidJobError(job, `has ${specs.length} steps; at most ${MAX_STEPS} are allowed in one run`);
  }
  const steps = new Map<string, StepSpec>();
  for (const spec of specs) {
    if (!STEP_KEY.test(spec.key)) {
      throw new InvalidJobError(
        job,
        `step key '${spec.key}' is invalid: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`,
        [spec.key],
      );
    }
    checkOptions(job, spec);
    if (spec.map) checkMapSpec(job, spec.key, spec.map);
    if (steps.has(spec.key))
      throw new InvalidJobError(job, `step key '${spec.key}' is defined twice`, [spec.key]);
    steps.set(spec.key, spec);
  }

  const upstream = new Map<string, string[]>();
  const dependents = new Map<string, string[]>();
  for (const key of steps.keys()) dependents.set(key, []);
  for (const spec of specs) {
    const ups = [...new Set(Object.values(spec.dependsOn))];
    for (const up of ups) {
      if (up === spec.key) throw new InvalidJobError(job, `step '${spec.key}' depends on itself`, [spec.key]);
      const list = dependents.get(up);
      if (!list) {
        throw new InvalidJobError(job, `step '${spec.key}' depends on unknown step '${up}'`, [spec.key, up]);
      }
      list.push(spec.key);
    }
    upstream.set(spec.key, ups);
  }

  const order = topologicalOrder(job, steps, upstream);
  for (const spec of specs) {
    // A map over a map nests one level (lib/job/mapStep.ts): its outer map maps a plain list.
    const over = spec.map?.over;
    const outerOver = over === undefined ? undefined : steps.get(over)?.map?.over;
    if (over !== undefined && outerOver !== undefined && steps.get(outerOver)?.map) {
      throw new InvalidJobError(
        job,
        `map step '${spec.key}' maps over map step '${over}', which maps over map step '${outerOver}': maps nest one level only; add a step between`,
        [spec.key, over, outerOver],
      );
    }
  }
  const roots = order.filter((key) => (upstream.get(key) ?? []).length === 0);
  const sinks = order.filter((key) => (dependents.get(key) ?? []).length === 0);
  const upstreamIndex = new Map<string, Map<string, number>>();
  for (const [key, ups] of upstream) {
    if (ups.length > 1) upstreamIndex.set(key, new Map(ups.map((up, i) => [up, i])));
  }
  return { job, steps, order, dependents, upstream, upstreamIndex, roots, sinks };
}

/** Options a step definition can get wrong in plain JavaScript (or through `as`). */
function checkOptions(job: string, spec: StepSpec): void {
  // Read here, not at import: job.ts imports this module (a cycle).
  const RUNTIMES: readonly unknown[] = Object.values(Runtime);
  const ON_LAMBDA_TIMEOUT: readonly unknown[] = Object.values(OnLambdaTimeout);
  const { runtime, onLambdaTimeout, cpu, memoryMb, timeoutSeconds, priority } = spec.options;
  const bad = (what: string) => {
    throw new InvalidJobError(job, `step '${spec.key}': ${what}`, [spec.key]);
  };
  if (runtime !== undefined && !RUNTIMES.includes(runtime))
    bad(`runtime must be one of ${RUNTIMES.join(', ')}, got '${String(runtime)}'`);
  if (onLambdaTimeout !== undefined && !ON_LAMBDA_TIMEOUT.includes(onLambdaTimeout))
    bad(`onLambdaTimeout must be one of ${ON_LAMBDA_TIMEOUT.join(', ')}, got '${String(onLambdaTimeout)}'`);
  for (const [name, value] of Object.entries({ cpu, memoryMb })) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      bad(`${name} must be a positive whole number, got ${value}`);
  }
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0))
    bad(`timeoutSeconds must be a positive number of seconds, got ${timeoutSeconds}`);
  const priorityIssue = priorityProblem(priority);
  if (priorityIssue) bad(priorityIssue);
}

/** Kahn's algorithm; on a cycle, find and name it by its path. */
function topologicalOrder(
  job: string,
  steps: ReadonlyMap<string, StepSpec>,
  upstream: ReadonlyMap<string, readonly string[]>,
): string[] {
  const remaining = new Map<string, number>();
  const down = new Map<string, string[]>();
  for (const key of steps.keys()) down.set(key, []);
  for (const [key, ups] of upstream) {
    remaining.set(key, ups.length);
    for (const up of ups) down.get(up)?.push(key);
  }
  const ready = [...steps.keys()].filter((key) => remaining.get(key) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const key = ready.pop() as string;
    order.push(key);
    for (const next of down.get(key) ?? []) {
      const left = (remaining.get(next) ?? 0) - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  if (order.length === steps.size) return order;
  const cycle = findCycle(
    [...remaining].filter(([, n]) => n > 0).map(([k]) => k),
    upstream,
  );
  throw new InvalidJobError(job, `has a cycle: ${cycle.join(' -> ')}`, cycle);
}

function findCycle(
  candidates: readonly string[],
  upstream: ReadonlyMap<string, readonly string[]>,
): string[] {
  const inCandidates = new Set(candidates);
  // Walk upstream edges from any stuck step; the walk must revisit a step.
  let current = candidates[0] as string;
  const seenAt = new Map<string, number>();
  const path: string[] = [];
  while (!seenAt.has(current)) {
    seenAt.set(current, path.length);
    path.push(current);
    const next = (upstream.get(current) ?? []).find((up) => inCandidates.has(up));
    if (next === undefined) break;
    current = next;
  }
  const cycle = path.slice(seenAt.get(current) ?? 0);
  // path follows upstream edges; show it in dependency direction, closed.
  cycle.reverse();
  return [...cycle, cycle[0] as string];
}

/** Every step downstream of `key`, transitively. */
export function descendantsOf(plan: JobPlan, key: string): string[] {
  const out = new Set<string>();
  const stack = [...(plan.dependents.get(key) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (out.has(next)) continue;
    out.add(next);
    stack.push(...(plan.dependents.get(next) ?? []));
  }
  return [...out];
}

/** The spec a step key runs by: a plan step's own, or for a map item its map's (with no upstream). */
export function stepSpecOf(plan: JobPlan, key: string): StepSpec | undefined {
  const own = plan.steps.get(key);
  if (own) return own;
  const map = mapOfItem(key);
  const spec = map === undefined ? undefined : plan.steps.get(map);
  if (!spec?.map) return undefined;
  return { key, dependsOn: {}, options: spec.options, run: spec.run, itemOf: map };
}

/** Whether this plan step is a map step. */
export const isMapStep = (plan: JobPlan, key: string) => plan.steps.get(key)?.map !== undefined;

/** Whether this plan step is a map over a map's items (one level of nesting). */
export const isNestedMap = (plan: JobPlan, key: string) => {
  const over = plan.steps.get(key)?.map?.over;
  return over !== undefined && isMapStep(plan, over);
};
