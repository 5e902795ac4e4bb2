import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3Keys } from '../../lib/store/keys.ts';
import { runToEnd, useStack } from '../support/stack.ts';

const handle = useStack();

describe('the lines a step writes with ctx.log', () => {
  it('are kept per attempt in one S3 object each, for the attempts that logged only', async () => {
    const run = await runToEnd(handle, 'failing');
    const { logs, more } = await handle.client.reader.stepLogs(run.runId);
    expect(more).toBe(false);
    // `explode` logs on each of its two attempts; `load`, `audit` never log, so have no object.
    expect(logs.map((doc) => [doc.step, doc.attempt])).toEqual([
      ['explode', 1],
      ['explode', 2],
    ]);
    expect(logs[0]?.lines).toEqual([
      { at: expect.any(String), message: 'writing 3 rows to the warehouse', fields: { rows: 3 } },
    ]);
    expect(logs[0]?.dropped).toBe(0);
    const listed = await handle.deps.aws.s3.send(
      new ListObjectsV2Command({ Bucket: handle.deps.config.bucket, Prefix: s3Keys.stepLogs(run.runId) }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([
      s3Keys.stepLog(run.runId, 'explode', 1),
      s3Keys.stepLog(run.runId, 'explode', 2),
    ]);
    expect((await handle.client.reader.stepLogs(run.runId, 'audit')).logs).toEqual([]);
  });

  it('come with the step’s view (the UI’s step panel)', async () => {
    const run = await runToEnd(handle, 'failing');
    const view = await handle.client.reader.stepView(run.runId, 'explode');
    expect(view.logs.map((doc) => doc.attempt)).toEqual([1, 2]);
    expect(view.attempts.map((a) => a.outcome)).toEqual(['RETRIED', 'FAILED']);
  });
});
