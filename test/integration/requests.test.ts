import { randomUUID } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../lib/aws/requestMetrics.ts';
import { runToEnd, useStack } from '../support/stack.ts';

const metrics = new RequestMetrics();
const handle = useStack({ requestMetrics: metrics });

describe('AWS requests per step (counted by the SDK middleware)', () => {
  it('are what the fast path needs for a 20-step chain, by operation', async () => {
    metrics.reset();
    const run = await runToEnd(handle, 'serial');
    expect(run.status).toBe('SUCCEEDED');
    const worker = metrics.snapshot().stepWorker ?? {};
    // Per step: the idempotency record's INPROGRESS put (Powertools), the claim, the result
    // with its small output inline, the run counter (whose returned status lets the next
    // step start without reading it: one run-status read for the whole chain), and one batch
    // write of the STEP_SUCCESS event (standing for the STEP_START too) with the COMPLETED
    // idempotency record;
    // per dependent, its message alone (it has one upstream: no WAITING -> QUEUED write),
    // carrying the small output along (no read of the upstream record). No retries or
    // duplicates locally, so the counts are exact.
    expect(worker).toEqual({
      'DynamoDB.BatchWriteItem': 20,
      'DynamoDB.GetItem': 1,
      'DynamoDB.PutItem': 20,
      'DynamoDB.UpdateItem': 60,
      'SQS.SendMessageBatch': 19,
    });
    expect(metrics.total('stepWorker') / 20).toBeCloseTo(6, 5);
    // Each BatchWriteItem: the STEP_SUCCESS event and the COMPLETED record (billed by the item).
    expect(metrics.itemsBatchWritten('stepWorker')).toBe(40);
    // Both events of each step are listed, the start first.
    const { events } = await handle.client.listEvents(run.runId);
    const ofStep = events.filter((e) => e.step === 'step-03').map((e) => e.type);
    expect(ofStep).toEqual(['STEP_START', 'STEP_SUCCESS']);
    // The batched COMPLETED records are really there, as Powertools would have written them.
    const records = await handle.deps.aws.ddb.send(
      new ScanCommand({ TableName: handle.deps.config.idempotencyTable }),
    );
    const ofRun = (records.Items ?? []).filter((item) => String(item.data?.runId) === run.runId);
    expect(ofRun).toHaveLength(20);
    expect(new Set(ofRun.map((item) => item.status))).toEqual(new Set(['COMPLETED']));
    expect(
      ofRun.every((item) => item.data?.status === 'SUCCEEDED' && item.expiration > Date.now() / 1000),
    ).toBe(true);
    // The state machine's functions: one StartRun, one FinalizeRun, and PollRun reads only
    // the run item with its counter items: one BatchGetItem a look.
    const snapshot = metrics.snapshot();
    expect(Object.keys(snapshot.pollRun ?? {})).toEqual(['DynamoDB.BatchGetItem']);
    expect(snapshot.startRun?.['SQS.SendMessageBatch']).toBe(1);
  });

  it('cost a run under maxConcurrentRuns, with a slot free, a take at StartRun and a give-back at FinalizeRun', async () => {
    metrics.reset();
    const run = await runToEnd(handle, 'run-limit', { key: `free-${randomUUID()}`, steps: 3, ms: 0 });
    expect(run.status).toBe('SUCCEEDED');
    const snapshot = metrics.snapshot();
    // Against a run without a limit (2 BatchGetItem, 2 PutItem, 2 UpdateItem and the plan's
    // writes): the key's slots and line read (2 Query), its limit item declared (1 UpdateItem,
    // once per key), the slot taken (1 PutItem), the run moved QUEUED -> STARTING with its
    // counters read back (1 UpdateItem, 1 BatchGetItem); no waiter item to delete.
    expect(snapshot.startRun).toEqual({
      'DynamoDB.BatchGetItem': 3,
      'DynamoDB.BatchWriteItem': 1,
      'DynamoDB.PutItem': 3,
      'DynamoDB.Query': 2,
      'DynamoDB.UpdateItem': 4,
      'SQS.SendMessageBatch': 1,
    });
    // The slot given back once; no lease renewal in a run this short (one per 5 minutes).
    expect(snapshot.finalizeRun?.['DynamoDB.DeleteItem']).toBe(1);
    expect(snapshot.pollRun?.['DynamoDB.UpdateItem']).toBeUndefined();
    // The steps cost what any step does.
    expect(metrics.total('stepWorker') / 3).toBeCloseTo(6, 5);
  });

  it('names operations by service, and scopes requests made outside a function as other', () => {
    const local = new RequestMetrics();
    local.count('S3.PutObject');
    local.withScope('mine', () => local.count('SQS.SendMessage'));
    expect(local.snapshot()).toEqual({ mine: { 'SQS.SendMessage': 1 }, other: { 'S3.PutObject': 1 } });
    expect(local.total()).toBe(2);
    local.withScope('mine', () => local.countBatchWriteItems(3));
    expect([
      local.itemsBatchWritten('mine'),
      local.itemsBatchWritten('other'),
      local.itemsBatchWritten(),
    ]).toEqual([3, 0, 3]);
  });
});
