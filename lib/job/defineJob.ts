import type { z } from 'zod';
import { InvalidInputError, InvalidJobError } from '../errors.ts';
import { buildPlan, type JobPlan, type StepSpec } from './dag.ts';
import { defineSchedules, type Schedule, type ScheduleOptions } from './schedule.ts';

export const Runtime = { LAMBDA: 'lambda', ECS: 'ecs' } as const;
export type Runtime = (typeof Runtime)[keyof typeof Runtime];

export const Priority = { NORMAL: 'normal', HIGH: 'high' } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];

/** What a step's function receives besides its upstream outputs. */
export interface StepContext<I> {
  /** The run's input, parsed by the job's schema. */
  readonly input: I;
  readonly runId: string;
  readonly jobName: string;
  readonly stepKey: string;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when the step times out or the run is cancelled; pass it to fetch() and friends. */
  readonly signal: AbortSignal;
  /** Structured log line tied to this run and step. */
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Report progress: a STEP_PROGRESS event in the run's log (`lambdag logs`, and shown by
   * `lambdag run --wait`). At most one event a second is written; the latest report
   * within a second is written when that second is over. Never throws.
   */
  readonly progress: (message: string, data?: Record<string, unknown>) => void;
}

/** What a Lambda step does when it runs out of the invocation's time. */
export const OnLambdaTimeout = { FAIL: 'fail', ECS: 'ecs' } as const;
export type OnLambdaTimeout = (typeof OnLambdaTimeout)[keyof typeof OnLambdaTimeout];

export interface BackoffOptions {
  /** First retry delay before jitter. Default 1. */
  readonly baseSeconds?: number;
  /** Upper bound of any retry delay. Default 300. */
  readonly maxSeconds?: number;
}

export interface StepOptions {
  /** How many times a failed attempt is retried. Default: the job's, else 0. */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
  /**
   * Which errors are worth a retry (default: all but NonRetryableError, StepTimeoutError
   * counts as retryable). Return false to fail the step at once.
   */
  readonly retryable?: (error: unknown) => boolean;
  /** Per-attempt time limit. Default: bounded by the worker's own limit. */
  readonly timeoutSeconds?: number;
  /** Where the step runs. `ecs` is for steps beyond Lambda's 15 minutes, memory or disk. */
  readonly runtime?: Runtime;
  /**
   * A Lambda step that runs out of the invocation's time (or whose worker dies, as one
   * killed by the timeout or out of memory does): `fail` (default) treats it as a timeout,
   * retried within `retries`; `ecs` runs its next attempt on ECS instead, and every later
   * one, without spending a retry. The promotion is a STEP_PROMOTED event.
   */
  readonly onLambdaTimeout?: OnLambdaTimeout;
  /** ECS task CPU units (1024 = 1 vCPU) for a `runtime: 'ecs'` step; default the task definition's. */
  readonly cpu?: number;
  /** ECS task memory (MiB) for a `runtime: 'ecs'` step; default the task definition's. */
  readonly memoryMb?: number;
  /** Named step queue (a `LAMBDAG_QUEUE_URL_<NAME>` queue). Default from priority. */
  readonly queue?: string;
  /** `high` routes to the `high` queue unless `queue` is given. */
  readonly priority?: Priority;
}

declare const outputType: unique symbol;

/** A handle on a defined step; pass it in `dependsOn` to receive its output, typed. */
export interface StepRef<O> {
  readonly key: string;
  /** Phantom: carries the output type only. */
  readonly [outputType]?: O;
}

/** Upstream steps by the name their output has in the step function's first argument. */
export type Upstream = Readonly<Record<string, StepRef<unknown> | string>>;

export type OutputsOf<U extends Upstream> = {
  readonly [K in keyof U]: U[K] extends StepRef<infer O> ? O : unknown;
};

export type StepFn<I, D> = (upstream: D, ctx: StepContext<I>) => unknown;

/** One upstream output of a streaming step: its name in `dependsOn`, and the output. */
export type UpstreamEntry<U extends Upstream> = {
  readonly [K in keyof U]: readonly [K, OutputsOf<U>[K]];
}[keyof U];

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
    options: StepOptions & { readonly dependsOn: U; readonly streamUpstream: true },
    run: (upstream: AsyncIterable<UpstreamEntry<U>>, ctx: StepContext<I>) => O,
  ): StepRef<Awaited<O>>;
  /** A step with options; `dependsOn` maps names to upstream steps, whose outputs arrive typed. */
  step<U extends Upstream, O>(
    key: string,
    options: StepOptions & { readonly dependsOn?: U },
    run: (upstream: OutputsOf<U>, ctx: StepContext<I>) => O,
  ): StepRef<Awaited<O>>;
}

export interface JobOptions<S extends z.ZodType | undefined> {
  /** Schema of the run input; a run whose input fails it is rejected before anything is written. */
  readonly input?: S;
  readonly description?: string;
  /** Defaults for every step of the job. */
  readonly defaults?: StepOptions;
  /** Start runs on a schedule (EventBridge Scheduler when deployed; `lambdag local up` locally). */
  readonly schedules?: readonly ScheduleOptions[];
  /** A run still going after this long is stopped and FAILED with RUN_TIMEOUT (checked by each poll). */
  readonly timeoutSeconds?: number;
  /** When a step fails for good, stop the rest of the run (default: independent branches keep running). */
  readonly failFast?: boolean;
}

type InputOf<S> = S extends z.ZodType ? z.output<S> : unknown;

export interface JobDefinition<I = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly timeoutSeconds?: number;
  readonly failFast: boolean;
  readonly schedules: readonly Schedule[];
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
 *   job.step('d', { dependsOn: { b, c } }, ({ b, c }) => b + c);
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
  const definition: JobDefinition<unknown> = {
    name,
    schedules,
    failFast,
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
          specs.push({ key, dependsOn, options: { ...options.defaults, ...rest }, run, streamUpstream });
          return { key };
        },
      } as JobBuilder<unknown>;
      build(builder, input);
      return buildPlan(name, specs);
    },
  };

  // Validate at definition time when the job can be planned without a user input
  // (no schema, or a schema whose defaults fill everything): a bad DAG fails at import.
  const sample = schema ? schema.safeParse({}) : { success: true as const, data: {} };
  if (sample.success) definition.plan(sample.data);
  return definition;
}
