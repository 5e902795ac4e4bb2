import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ArtifactExpiredError, ErrorCode, RunNotFoundError } from '../../lib/errors.ts';
import { expiryOf, TTL_ATTRIBUTE } from '../../lib/run/retention.ts';
import { FAN_IN_SHARD_SIZE } from '../../lib/step/fanIn.ts';
import { readStepOutput } from '../../lib/step/stepOutput.ts';
import { runToEnd, stepsOf, useStack } from '../support/stack.ts';

/** custom.stages.local.retentionDays in serverless.yml. */
const LOCAL_RETENTION_DAYS = 7;
const DAY_SECONDS = 86_400;

/** The clock the stack's expiry judges by: the real one until a test moves it (epoch ms). */
let clock: number | undefined;
const handle = useStack({ expiry: { intervalMs: 0, now: () => new Date(clock ?? Date.now()) } });

/** Every item in a run's partition, scanned from the table (not through the run store). */
async function itemsOf(runId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await handle.deps.aws.ddb.send(
      new ScanCommand({
        TableName: handle.stack.env.LAMBDAG_RUNS_TABLE,
        // The run item's key, and the partition keys its other items spread over.
        FilterExpression: 'pk = :pk OR begins_with(pk, :spread)',
        ExpressionAttributeValues: { ':pk': `RUN#${runId}`, ':spread': `RUN#${runId}#` },
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

async function objectsOf(runId: string): Promise<string[]> {
  const out = await handle.deps.aws.s3.send(
    new ListObjectsV2Command({ Bucket: handle.stack.env.LAMBDAG_BUCKET, Prefix: `runs/${runId}/` }),
  );
  return (out.Contents ?? []).map((object) => object.Key as string);
}

const kindOf = (sk: unknown) => String(sk).split('#')[0];

describe('a run and its retention', () => {
  it('stamps every item of a run, shards, events and counters too, with one expiry: its start plus the retention', async () => {
    const run = await runToEnd(handle, 'fanout', { n: FAN_IN_SHARD_SIZE + 4 });
    expect(run.status).toBe('SUCCEEDED');

    const items = await itemsOf(run.runId);
    expect(new Set(items.map((item) => kindOf(item.sk)))).toEqual(
      new Set(['RUN', 'STEP', 'EVT', 'FANIN', 'COUNTER']),
    );
    expect(run.expiresAt).toBe(expiryOf(new Date(run.createdAt), LOCAL_RETENTION_DAYS));
    for (const item of items)
      expect({ sk: item.sk, ttl: item[TTL_ATTRIBUTE] }).toEqual({ sk: item.sk, ttl: run.expiresAt });
  });

  it('disappears, items and artifacts, once it has expired, and is then reported not found with the retention', async () => {
    const run = await runToEnd(handle, 'large-output');
    expect(run.status).toBe('SUCCEEDED');
    const expiresAt = run.expiresAt as number;
    const objects = await objectsOf(run.runId);
    expect(objects).toEqual(
      expect.arrayContaining([`runs/${run.runId}/steps/make/1/output.json`, `runs/${run.runId}/result.json`]),
    );
    const itemCount = (await itemsOf(run.runId)).length;

    // A second before its expiry, nothing of it goes.
    clock = (expiresAt - 1) * 1000;
    await handle.stack.expiry.sweep();
    expect((await itemsOf(run.runId)).length).toBe(itemCount);
    expect(await objectsOf(run.runId)).toEqual(objects);

    // By the day after (S3 rounds each object's own expiry up to midnight UTC), all of it has.
    clock = (expiresAt + DAY_SECONDS) * 1000;
    const report = await handle.stack.expiry.sweep();
    expect(report.items).toBeGreaterThanOrEqual(itemCount);
    expect(await itemsOf(run.runId)).toEqual([]);
    expect(await objectsOf(run.runId)).toEqual([]);
    expect((await handle.client.listRuns('large-output')).map((r) => r.runId)).not.toContain(run.runId);

    // A late write to the expired run (PollRun settling an ECS task) does not bring back a
    // stub of it without a TTL.
    await handle.deps.store.untrackTasks(run.runId, [{ step: 'make', attempt: 1, taskArn: 'arn:task' }]);
    expect(await itemsOf(run.runId)).toEqual([]);

    const notFound = `run '${run.runId}' not found (runs are kept ${LOCAL_RETENTION_DAYS} days)`;
    await expect(handle.client.getRun(run.runId)).rejects.toThrow(new RunNotFoundError(run.runId, 7));
    await expect(handle.client.getRun(run.runId)).rejects.toThrow(notFound);
    await expect(handle.client.rerun(run.runId, { steps: ['make'] })).rejects.toThrow(notFound);
  });

  it('reports an expired artifact of a run whose items are still there with a typed error', async () => {
    clock = undefined;
    const run = await runToEnd(handle, 'large-output');
    const make = (await stepsOf(handle, run.runId)).get('make');
    expect(make?.outputKey).toBe(`runs/${run.runId}/steps/make/1/output.json`);
    expect(await readStepOutput(handle.deps.payloads, make as never)).toHaveLength(4096);

    // The lifecycle ran; DynamoDB has not deleted the expired items yet (AWS: up to ~48 h later).
    clock = ((run.expiresAt as number) + DAY_SECONDS) * 1000;
    await handle.stack.expiry.sweepObjects();

    const error = await readStepOutput(handle.deps.payloads, make as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactExpiredError);
    expect(error).toMatchObject({
      code: ErrorCode.ARTIFACT_EXPIRED,
      runId: run.runId,
      step: 'make',
      key: make?.outputKey,
      retentionDays: LOCAL_RETENTION_DAYS,
    });
    expect((error as Error).message).toBe(
      `the output of step 'make' of run '${run.runId}' has expired (s3 object ${make?.outputKey} is gone: artifacts are kept 7 days)`,
    );
    await expect(handle.client.getResultDocument(run)).rejects.toMatchObject({
      code: ErrorCode.ARTIFACT_EXPIRED,
      key: `runs/${run.runId}/result.json`,
    });
  });
});
