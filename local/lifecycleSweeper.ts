import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { expiryOf } from '../lib/run/retention.ts';

/** One enabled lifecycle rule with ExpirationInDays, as serverless.yml declares it. */
export interface ExpirationRule {
  readonly bucket: string;
  readonly prefix: string;
  readonly days: number;
}

/**
 * S3 lifecycle expiration for the embedded stack (fauxqs keeps objects forever): delete the
 * objects whose LastModified plus the rule's days, rounded up to the next midnight UTC as S3
 * rounds, is at or before `now`. AWS runs its lifecycle asynchronously (usually within a
 * day of that time); one sweep deletes every expired object at once.
 */
export async function sweepExpiredObjects(s3: S3Client, rule: ExpirationRule, now: Date): Promise<number> {
  const nowSeconds = now.getTime() / 1000;
  let deleted = 0;
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: rule.bucket, Prefix: rule.prefix, ContinuationToken: token }),
    );
    for (const object of out.Contents ?? []) {
      if (!object.Key || !object.LastModified) continue;
      if (expiryOf(object.LastModified, rule.days) > nowSeconds) continue;
      await s3.send(new DeleteObjectCommand({ Bucket: rule.bucket, Key: object.Key }));
      deleted++;
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}
