/** The types a step is declared with: its options, context, function and references. */
import type { AwsClients } from '../aws/clients.ts';
import type { PriorityOption } from './priority.ts';
import type { OnLambdaTimeout, Runtime } from './runtime.ts';

export { Priority, type PriorityOption } from './priority.ts';
export { OnLambdaTimeout, Runtime } from './runtime.ts';

/** What a step's function receives besides its upstream outputs. */
export interface StepContext<I> {
  /** The run's input, parsed by the job's schema. */
  readonly input: I;
  readonly runId: string;
  readonly jobName: string;
  readonly stepKey: string;
  /** The deployment's artifacts bucket, where a step may keep files under `runs/<runId>/` (they expire with the run). */
  readonly bucket: string;
  /**
   * The worker's AWS SDK clients: they sign as its role (StepWorkerRole in serverless.yml, or
   * the ECS task role) and reach the embedded stack when run locally, whose in-process
   * functions do not share this process's environment. A call a step makes must be allowed
   * by that role, on AWS as locally.
   */
  readonly aws: AwsClients;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when the step times out or the run is cancelled; pass it to fetch() and friends. */
  readonly signal: AbortSignal;
  /**
   * Structured log line tied to this run and step: to the worker's log, and kept with the
   * attempt (`lambdag logs RUN --step S`, the UI's step panel; lib/step/stepLog.ts).
   */
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Report progress: a STEP_PROGRESS event in the run's log (`lambdag logs`, and shown by
   * `lambdag run --wait`). At most one event a second is written; the latest report
   * within a second is written when that second is over. Never throws.
   */
  readonly progress: (message: string, data?: Record<string, unknown>) => void;
}

/** What a Lambda step does when it runs out of the invocation's time. */

export interface BackoffOptions {
  /** First retry delay before jitter. Default 1. */
  readonly baseSeconds?: number;
  /** Upper bound of any retry delay. Default 300. */
  readonly maxSeconds?: number;
}

/**
 * A keyed concurrency limit (docs/concurrency.md): at most `limit` attempts of steps with the
 * same key run at once, across all runs. `key` is a constant, or a function of the run's
 * input (`(input) => input.tenant`), evaluated when the run's plan is built.
 */
export interface ConcurrencyOption<I = unknown> {
  readonly key: string | ((input: I) => string);
  readonly limit: number;
}

export interface StepOptions<I = unknown> {
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
  /**
   * 0 (routine) to 9 (most urgent), or `normal` (0) / `high` (5); default the run's priority.
   * From 5 up the step goes to the `high` queue unless `queue` is given (docs/concurrency.md).
   */
  readonly priority?: PriorityOption;
  /** At most `limit` attempts with this key run at once, across all runs (Lambda steps only). */
  readonly concurrency?: ConcurrencyOption<I>;
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

declare const itemType: unique symbol;

/** A map step's handle (lib/job/mapStep.ts): output the list of its items' outputs. */
export interface MapRef<O> extends StepRef<O[]> {
  /**
   * Phantom, never set: one item's output type (a streaming collector receives them one by
   * one). Required, so that a plain step whose output is an array is not taken for a map.
   */
  readonly [itemType]: O;
}

/**
 * A step handle that is not a map's: what a map over a plain list takes. A map over a map
 * takes the MapRef itself (a nested map, lib/job/mapStep.ts), with its own item type.
 */
export type PlainRef<O> = StepRef<O> & { readonly [itemType]?: never };

/**
 * One upstream output of a streaming step: its name in `dependsOn`, and the output; for a
 * map step, one entry per item (its output), in item order.
 */
export type UpstreamEntry<U extends Upstream> = {
  readonly [K in keyof U]: U[K] extends MapRef<infer E> ? readonly [K, E] : readonly [K, OutputsOf<U>[K]];
}[keyof U];
