/**
 * How long a run is kept, in one place: its items in the runs table (DynamoDB TTL) and its
 * artifacts in the bucket (S3 lifecycle, custom.stages.<stage>.retentionDays) go together.
 */

/** The runs table's TTL attribute (serverless.yml RunsTable.TimeToLiveSpecification): epoch seconds. */
export const TTL_ATTRIBUTE = 'expiresAt';

const DAY_MS = 86_400_000;

/**
 * When something created at `created` expires under a retention of `days`, in epoch seconds.
 * S3 lifecycle expiration adds the days to an object's creation time and rounds up to the
 * next midnight UTC; a run's items use the same rule from the run's start, so they expire
 * with the artifacts written the day the run started, never before them.
 */
export function expiryOf(created: Date, days: number): number {
  const end = created.getTime() + days * DAY_MS;
  return Math.ceil(end / DAY_MS) * (DAY_MS / 1000);
}
