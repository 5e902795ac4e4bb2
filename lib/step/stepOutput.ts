import { StepOutputMissingError } from '../errors.ts';
import { s3Keys } from '../store/keys.ts';
import type { StepResult } from '../store/runStore.ts';
import type { StepRecord } from '../store/types.ts';
import type { PayloadStore } from './payload.ts';

/**
 * Outputs up to this size (as JSON) live in the step's own DynamoDB item, where the
 * dependents' read of their upstream records already finds them: no S3 put for the step,
 * no S3 get for each dependent. Larger ones go to S3.
 */
export const INLINE_OUTPUT_BYTES = 1024;

/** Store a step attempt's output where it belongs; returns what recordSuccess records. */
export async function storeStepOutput(
  payloads: PayloadStore,
  ref: { runId: string; step: string; attempt: number },
  output: unknown,
): Promise<StepResult> {
  const value = output === undefined ? null : output;
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json) <= INLINE_OUTPUT_BYTES) return { output: value };
  const outputKey = s3Keys.stepOutput(ref.runId, ref.step, ref.attempt);
  await payloads.putText(outputKey, json);
  return { outputKey };
}

/** Has this succeeded step an output to read (inline or in S3)? */
export function hasOutput(step: StepRecord): boolean {
  return step.outputKey !== undefined || 'output' in step;
}

/** A succeeded step's output, from its item or from S3 (ArtifactExpiredError when it is gone). */
export async function readStepOutput(payloads: PayloadStore, step: StepRecord): Promise<unknown> {
  // A reused output (a rerun's) is under its earlier run's prefix, and expires with that run.
  if (step.outputKey !== undefined)
    return payloads.getArtifact(step.outputKey, { runId: step.runId, step: step.key });
  if (!('output' in step)) throw new StepOutputMissingError(step.runId, step.key);
  return step.output;
}
