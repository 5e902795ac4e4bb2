import { InvalidJobError } from '../errors.ts';
import { keyForInput } from './inputKey.ts';
import { OnLambdaTimeout, Runtime } from './runtime.ts';
import type { StepOptions } from './stepTypes.ts';

/** The most attempts one key may let run at once (its slots are items of one partition key). */
export const MAX_CONCURRENCY_LIMIT = 10_000;
/** A concurrency key: printable, no whitespace, at most 200 characters (it is part of a DynamoDB key). */
export const CONCURRENCY_KEY = /^[^\s\p{Cc}]{1,200}$/u;

/** Run-level slot keys (a job's maxConcurrentRuns, lib/job/runLimit.ts) start with this; steps' may not. */
export const RUN_KEY_PREFIX = 'RUNS#';

/** A step's concurrency limit as its plan keeps it: the key evaluated for the run's input. */
export interface StepConcurrency {
  readonly key: string;
  readonly limit: number;
}

/**
 * The step's options with its `concurrency` key evaluated for this run's input (a plan only
 * holds constant keys), after checking the option. Errors name the job, the step and what
 * is wrong: InvalidJobError.
 */
export function withConcurrency(
  job: string,
  step: string,
  options: StepOptions,
  input: unknown,
): StepOptions {
  const option = options.concurrency;
  if (option === undefined) return options;
  const bad = (what: string): never => {
    throw new InvalidJobError(job, `step '${step}': concurrency ${what}`, [step]);
  };
  if (typeof option !== 'object' || option === null) return bad('must be an object { key, limit }');
  const { limit } = option;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_CONCURRENCY_LIMIT)) {
    bad(`limit must be a whole number from 1 to ${MAX_CONCURRENCY_LIMIT}, got ${String(limit)}`);
  }
  if (options.runtime === Runtime.ECS || options.onLambdaTimeout === OnLambdaTimeout.ECS) {
    bad("is for Lambda steps: not yet with runtime 'ecs' or onLambdaTimeout 'ecs'");
  }
  const key = keyForInput(option.key, input, (why) => bad(`key ${why}`));
  if (typeof key === 'string' && key.startsWith(RUN_KEY_PREFIX)) {
    bad(`key must not start with '${RUN_KEY_PREFIX}': those are the keys of jobs' maxConcurrentRuns`);
  }
  if (typeof key !== 'string' || !CONCURRENCY_KEY.test(key)) {
    bad(
      `key must be 1-200 characters without whitespace (a string, or a function of the input returning one), got ${JSON.stringify(key) ?? String(key)}`,
    );
  }
  return { ...options, concurrency: { key: key as string, limit } };
}

/** A plan step's concurrency limit, if it has one (its key already evaluated by withConcurrency). */
export function concurrencyOf(options: StepOptions): StepConcurrency | undefined {
  const option = options.concurrency;
  if (option === undefined || typeof option.key !== 'string') return undefined;
  return { key: option.key, limit: option.limit };
}
