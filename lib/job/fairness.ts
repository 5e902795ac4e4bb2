import { InvalidJobError } from '../errors.ts';
import { keyForInput } from './inputKey.ts';

/**
 * A fairness key as SQS takes it for a MessageGroupId: 1-128 characters, letters, digits and
 * ASCII punctuation (SQS API Reference, SendMessage: MessageGroupId). Run ids fit it.
 */
export const FAIRNESS_KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * Whose turn a run's step messages take on a step queue (docs/concurrency.md, "Fairness"):
 * a constant, or a function of the run's input (`(input) => input.tenant`). Runs with one key
 * share one tenant's turn; the default, the run id, makes each run its own tenant.
 */
export type FairnessKeyOption<I = unknown> = string | ((input: I) => string);

/**
 * The job's fairness key for this run's input, checked; undefined when the job sets none
 * (the run id is used). A bad key is an InvalidJobError naming the job.
 */
export function fairnessKeyOf(job: string, option: unknown, input: unknown): string | undefined {
  if (option === undefined) return undefined;
  const key = keyForInput(option, input, (why) => {
    throw new InvalidJobError(job, `fairnessKey ${why}`);
  });
  if (typeof key !== 'string' || !FAIRNESS_KEY.test(key)) {
    throw new InvalidJobError(
      job,
      `fairnessKey must be 1-128 letters, digits or ASCII punctuation, no spaces (a string, or a function of the input returning one), got ${JSON.stringify(key) ?? String(key)}`,
    );
  }
  return key;
}

/** The MessageGroupId of a run's step messages: the job's fairness key, else the run id. */
export const messageGroupOf = (runId: string, fairnessKey: string | undefined): string =>
  fairnessKey ?? runId;
