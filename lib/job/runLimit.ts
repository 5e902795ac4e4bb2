import { InvalidJobError } from '../errors.ts';
import { CONCURRENCY_KEY, MAX_CONCURRENCY_LIMIT, RUN_KEY_PREFIX } from './concurrency.ts';
import { keyForInput } from './inputKey.ts';
import type { ConcurrencyOption } from './stepTypes.ts';

/**
 * A job's `maxConcurrentRuns` (docs/concurrency.md, run-level limits): how many of its runs
 * may be going at once, all together (a number) or per key (`{ key, limit }`, the key a
 * constant or a function of the run's input). Runs over the limit wait QUEUED.
 */
export type RunLimitOption<I = unknown> = number | ConcurrencyOption<I>;

/** A run's limit as StartRun applies it: the slot key (its job's, and its own key) and the limit. */
export interface RunLimit {
  /** The slot key: `RUNS#<job>` or `RUNS#<job>#<key>`; step keys cannot take this prefix. */
  readonly key: string;
  readonly limit: number;
}

/** The slot key of a job's runs (with the run's own key when the limit is keyed). */
export const runSlotKey = (job: string, key?: string) =>
  key === undefined ? `${RUN_KEY_PREFIX}${job}` : `${RUN_KEY_PREFIX}${job}#${key}`;

/**
 * Check a job's `maxConcurrentRuns` when the job is defined (a key function is checked when
 * it is called, at StartRun). InvalidJobError names the job and what is wrong.
 */
export function checkRunLimit(job: string, option: RunLimitOption | undefined): void {
  if (option === undefined) return;
  const bad = (what: string): never => {
    throw new InvalidJobError(job, `maxConcurrentRuns ${what}`);
  };
  if (typeof option !== 'number' && (typeof option !== 'object' || option === null)) {
    bad('must be a number or an object { key, limit }');
  }
  const limit = typeof option === 'number' ? option : option.limit;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_CONCURRENCY_LIMIT)) {
    bad(`limit must be a whole number from 1 to ${MAX_CONCURRENCY_LIMIT}, got ${String(limit)}`);
  }
  if (typeof option === 'object' && typeof option.key !== 'function') checkKey(job, option.key);
}

/** The run's limit for this input, or none; a key function's bad answer is an InvalidJobError. */
export function runLimitOf(
  job: string,
  option: RunLimitOption | undefined,
  input: unknown,
): RunLimit | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'number') return { key: runSlotKey(job), limit: option };
  const key = keyForInput(option.key, input, (why) => {
    throw new InvalidJobError(job, `maxConcurrentRuns key ${why}`);
  });
  return { key: runSlotKey(job, checkKey(job, key)), limit: option.limit };
}

function checkKey(job: string, key: unknown): string {
  if (typeof key !== 'string' || !CONCURRENCY_KEY.test(key)) {
    throw new InvalidJobError(
      job,
      `maxConcurrentRuns key must be 1-200 characters without whitespace (a string, or a function of the input returning one), got ${JSON.stringify(key) ?? String(key)}`,
    );
  }
  return key;
}
