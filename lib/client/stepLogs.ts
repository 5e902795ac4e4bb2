import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { PayloadStore } from '../step/payload.ts';
import type { StepLogDocument } from '../step/stepLog.ts';
import { s3Keys } from '../store/keys.ts';

/** A page of log objects at most: one listing request, then one read per attempt that logged. */
export const MAX_LOG_OBJECTS = 100;

/**
 * The lines step attempts wrote with `ctx.log` (lib/step/stepLog.ts): the run's (or one
 * step's) log objects, listed by their prefix, so only the attempts that logged are read.
 */
export async function readStepLogs(
  s3: S3Client,
  payloads: PayloadStore,
  runId: string,
  step?: string,
): Promise<{ logs: StepLogDocument[]; more: boolean }> {
  const listed = await s3.send(
    new ListObjectsV2Command({
      Bucket: payloads.bucket,
      Prefix: s3Keys.stepLogs(runId, step),
      MaxKeys: MAX_LOG_OBJECTS,
    }),
  );
  const keys = (listed.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
  const logs = await Promise.all(
    keys.map((key) => payloads.getArtifact<StepLogDocument>(key, { runId, ...(step ? { step } : {}) })),
  );
  logs.sort((a, b) => a.step.localeCompare(b.step) || a.attempt - b.attempt);
  return { logs, more: listed.IsTruncated === true };
}
