import { createHash } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { runToEnd, useStack } from '../support/stack.ts';

const handle = useStack();

describe('a step message larger than the queue allows', () => {
  it('goes to S3 by claim check and is read back by the worker', async () => {
    const blob = 'x'.repeat(300 * 1024);
    const run = await runToEnd(handle, 'big-input', { blob });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual({
      bytes: blob.length,
      sha256: createHash('sha256').update(blob).digest('hex'),
      same: true,
    });
    const claims = await handle.deps.aws.s3.send(
      new ListObjectsV2Command({ Bucket: handle.deps.config.bucket, Prefix: 'claims/' }),
    );
    expect(claims.KeyCount ?? 0).toBeGreaterThan(0);
    // The input itself is over Step Functions' 256 KiB cap: the client sent it by S3 key.
    const inputs = await handle.deps.aws.s3.send(
      new ListObjectsV2Command({ Bucket: handle.deps.config.bucket, Prefix: `runs/${run.runId}/input.json` }),
    );
    expect(inputs.KeyCount).toBe(1);
  });
});
