import type { z } from 'zod';
import { InvalidInputError, InvalidJobError } from '../errors.ts';
import { withConcurrency } from './concurrency.ts';
import { buildPlan, type JobPlan, type StepSpec } from './dag.ts';
import { type FairnessKeyOption, fairnessKeyOf } from './fairness.ts';
import type { MapOptions, MapRef, NestedMapOptions } from './mapStep.ts';
import { checkRunLimit, type RunLimit, type RunLimitOption, runLimitOf } from './runLimit.ts';
import { defineSchedules, type Schedule, type ScheduleOptions } from './schedule.ts';

import type {
  OutputsOf,
  StepContext,
  StepFn,
  StepOptions,
  StepRef,
  Upstream,
  UpstreamEntry,
} from './stepTypes.ts';

export type { MapOptions, MapRef, NestedMapOptions } from './mapStep.ts';
export * from './stepTypes.ts';

export interface JobBuilder<I> {
  /** A root step: no upstream. */
  step<O>(key: string, run: (upstream: Record<string, never>, ctx: StepContext<I>) => O): StepRef<Awaited<O>>;
  /**
   * A step whose upstream outputs arrive one at a time (`streamUpstream: true`), as an
   * async iterable of `[name, output]` in `dependsOn` order, read 100 at a time: a fan-in
   * of 10,000 steps holds one page of outputs in memory, not all of them.
   */
  step<U extends Upstream, O>(
    key: string,
    options: StepOptions<I> & { readonly dependsOn: U; readonly streamUpstream: true },
    run: (upstream: AsyncIterable<UpstreamEntry<U>>, ctx: StepContext<I>) => O,
  ): StepRef<Awaited<O>>;
  /** A step with options; `dependsOn` maps names to upstream steps, whose outputs arrive typed. */
  step<U extends Upstream, O>(
    key: string,
    options: StepOptions<I> & { readonly dependsOn?: U },
    run: (upstream: OutputsOf<U>, ctx: StepContext<I>) => O,
  ): StepRef<Awaited<O>>;
  /**
   * A map nested in a map (one level): `over` is a map step whose items return arrays, and
   * `run` runs once per element of each (`key[i][j]`), once that map has ended. A step that
   * depends on it receives the outputs flat, in (outer item, element) order.
   */
  map<T, O>(
    key: string,
    options: NestedMapOptions<T, I>,
    run: (item: T, ctx: StepContext<I>) => O,
  ): MapRef<Awaited<O>>;
  /**
   * A map step: `run` runs once per item of `over`'s output (an array, or an async
   * iterable), each item as its own step (`key[0]`, `key[1]`, …), with the step options
   * given. A step that depends on the map receives the items' outputs in item order.
   */
  map<T, O>(
    key: string,
    options: MapOptions<T, I>,
    run: (item: T, ctx: StepContext<I>) => O,
  ): MapRef<Awaited<O>>;
}

export interface JobOptions<S extends z.ZodType | undefined> {
  /** Schema of the run input; a run whose input fails it is rejected before anything is written. */
  readonly input?: S;
  readonly description?: string;
  /** Defaults for every step of the job. */
  readonly defaults?: StepOptions<InputOf<S>>;
  /** Start runs on a schedule (EventBridge Scheduler when deployed; `lambdag local up` locally). */
  readonly schedules?: readonly ScheduleOptions[];
  /** A run still going after this long is stopped and FAILED with RUN_TIMEOUT (checked by each poll). */
  readonly timeoutSeconds?: number;
  /** When a step fails for good, stop the rest of the run (default: independent branches keep running). */
  readonly failFast?: boolean;
  /**
   * Whose turn the run's steps take on the step queues (SQS fair queues, docs/concurrency.md):
   * a constant or a function of the input, such as `(input) => input.tenant`. Default: the
   * run id, so one huge run cannot starve small ones. Runs with one key share a turn.
   */
  readonly fairnessKey?: FairnessKeyOption<InputOf<S>>;
  /**
   * At most this many runs of the job going at once (a number), or per key (`{ key, limit }`,
   * the key a constant or a function of the input); runs over it wait QUEUED, first come
   * first started (docs/concurrency.md).
   */
  readonly maxConcurrentRuns?: RunLimitOption<InputOf<S>>;
}

type InputOf<S> = S extends z.ZodType ? z.output<S> : unknown;

export interface JobDefinition<I = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly timeoutSeconds?: number;
  readonly failFast: boolean;
  readonly schedules: readonly Schedule[];
  /** The run's `maxConcurrentRuns` for this input (its key evaluated), or none. */
  runLimit(input: I): RunLimit | undefined;
  /** Parse and validate raw run input; throws InvalidInputError saying where it is wrong. */
  parseInput(raw: unknown): I;
  /** Build and validate the DAG for one input. Deterministic: the worker rebuilds it the same way. */
  plan(input: I): JobPlan;
}

const JOB_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Define a job: a named DAG of steps. The builder runs once per run with the
 * run's input, so a job can fan out over a size known from its input.
 *
 * @example
 * ```ts
 * export const diamond = defineJob('diamond', { input: z.object({ x: z.number() }) }, (job) => {
 *   const a = job.step('a', (_, { input }) => input.x + 1);
 *   const b = job.step('b', { dependsOn: { a } }, ({ a }) => a * 2);
 *   const c = job.step('c', { dependsOn: { a } }, ({ a }) => a * 3);
 *   job.step('d', b, c , (b, c ) => b + c);
 * });
 * ```
 */
export function defineJob<I = unknown>(
  name: string,
  build: (job: JobBuilder<I>, input: I) => void,
): JobDefinition<I>;
export function defineJob<S extends z.ZodType | undefined>(
  name: string,
  options: JobOptions<S>,
  build: (job: JobBuilder<InputOf<S>>, input: InputOf<S>) => void,
): JobDefinition<InputOf<S>>;
export function defineJob(
  name: string,
  optionsOrBuild: JobOptions<z.ZodType | undefined> | ((job: JobBuilder<unknown>, input: unknown) => void),
  maybeBuild?: (job: JobBuilder<unknown>, input: unknown) => void,
): JobDefinition<unknown> {
  const options = typeof optionsOrBuild === 'function' ? {} : optionsOrBuild;
  const build = typeof optionsOrBuild === 'function' ? optionsOrBuild : maybeBuild;
  if (!JOB_NAME.test(name)) {
    throw new InvalidJobError(
      name,
      'job names are 1-63 characters: lower-case letters, digits and -, starting with a letter',
    );
  }
  if (!build) throw new InvalidJobError(name, 'defineJob needs a build function');
  const schema = options.input;

  const schedules = defineSchedules(name, options.schedules);
  const { timeoutSeconds, failFast = false } = options;
  if (timeoutSeconds !== undefined && !(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    throw new InvalidJobError(
      name,
      `timeoutSeconds must be a positive number of seconds, got ${timeoutSeconds}`,
    );
  }
  // A constant key is checked now; a function's result when each run's plan is built.
  if (typeof options.fairnessKey !== 'function') fairnessKeyOf(name, options.fairnessKey, undefined);
  const { maxConcurrentRuns } = options as { maxConcurrentRuns?: RunLimitOption };
  checkRunLimit(name, maxConcurrentRuns);
  const definition: JobDefinition<unknown> = {
    name,
    schedules,
    failFast,
    runLimit: (input) => runLimitOf(name, maxConcurrentRuns, input),
    ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    ...(options.description === undefined ? {} : { description: options.description }),
    parseInput(raw) {
      if (!schema) return raw ?? {};
      const parsed = schema.safeParse(raw ?? {});
      if (parsed.success) return parsed.data;
      throw new InvalidInputError(
        `input of job '${name}' is invalid`,
        parsed.error.issues.map(
          (issue) => `${issue.path.length ? `input.${issue.path.join('.')}` : 'input'}: ${issue.message}`,
        ),
      );
    },
    plan(input) {
      const specs: StepSpec[] = [];
      const builder = {
        step(key: string, a: unknown, b?: unknown) {
          const hasOptions = typeof a !== 'function';
          const stepOptions = (hasOptions ? a : {}) as StepOptions & {
            dependsOn?: Upstream;
            streamUpstream?: boolean;
          };
          const run = (hasOptions ? b : a) as StepFn<unknown, unknown>;
          if (typeof run !== 'function')
            throw new InvalidJobError(name, `step '${key}' has no function`, [key]);
          const dependsOn: Record<string, string> = {};
          for (const [alias, ref] of Object.entries(stepOptions.dependsOn ?? {})) {
            dependsOn[alias] = typeof ref === 'string' ? ref : ref.key;
          }
          const { dependsOn: _ignored, streamUpstream = false, ...rest } = stepOptions;
          const merged = withConcurrency(name, key, { ...options.defaults, ...rest } as StepOptions, input);
          specs.push({ key, dependsOn, options: merged, run, streamUpstream });
          return { key };
        },
        map(
          key: string,
          mapOptions: MapOptions<unknown> | NestedMapOptions<unknown>,
          run: StepFn<unknown, unknown>,
        ) {
          if (typeof run !== 'function')
            throw new InvalidJobError(name, `map step '${key}' has no function`, [key]);
          const { over, maxConcurrency, toleratedFailures, itemKey, ...rest } = mapOptions;
          const overKey = typeof over === 'string' ? over : over?.key;
          if (typeof overKey !== 'string')
            throw new InvalidJobError(name, `map step '${key}' needs 'over', the step whose output it maps`, [
              key,
            ]);
          specs.push({
            key,
            dependsOn: { over: overKey },
            options: withConcurrency(name, key, { ...options.defaults, ...rest } as StepOptions, input),
            run,
            map: {
              over: overKey,
              ...(maxConcurrency === undefined ? {} : { maxConcurrency }),
              ...(toleratedFailures === undefined ? {} : { toleratedFailures }),
              ...(itemKey === undefined
                ? {}
                : { itemKey: itemKey as (item: unknown, index: number) => string }),
            },
          });
          return { key };
        },
      } as JobBuilder<unknown>;
      build(builder, input);
      const plan = buildPlan(name, specs);
      const fairnessKey = fairnessKeyOf(name, options.fairnessKey, input);
      return fairnessKey === undefined ? plan : { ...plan, fairnessKey };
    },
  };

  // Validate at definition time when the job can be planned without a user input
  // (no schema, or a schema whose defaults fill everything): a bad DAG fails at import.
  const sample = schema ? schema.safeParse({}) : { success: true as const, data: {} };
  if (sample.success) definition.plan(sample.data);
  return definition;
}
