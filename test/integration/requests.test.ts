import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../lib/requestMetrics.ts';
import { runToEnd, useStack } from '../support/stack.ts';

const metrics = new RequestMetrics();
const handle = useStack({ requestMetrics: metrics });

describe('AWS requests per step (counted by the SDK middleware)', () => {
  it('are what the fast path needs for a 20-step chain, by operation', async () => {
    metrics.reset();
    const run = await runToEnd(handle, 'serial');
    expect(run.status).toBe('SUCCEEDED');
    const worker = metrics.snapshot().stepWorker ?? {};
    // Per step: the idempotency record (put, then update to COMPLETED), the claim, the
    // run-status read, the STEP_START and STEP_SUCCESS events (one batch write), the result
    // with its small output inline, the run counter; per dependent: its release and message,
    // which carries the small output along (no read of the upstream record). No retries or
    // duplicates locally, so the counts are exact.
    expect(worker).toEqual({
      'DynamoDB.BatchWriteItem': 20,
      'DynamoDB.GetItem': 20,
      'DynamoDB.PutItem': 20,
      'DynamoDB.UpdateItem': 99,
      'SQS.SendMessageBatch': 19,
    });
    expect(metrics.total('stepWorker') / 20).toBeCloseTo(8.9, 5);
    // The state machine's functions: one StartRun, one FinalizeRun, and PollRun reads only the run item.
    const snapshot = metrics.snapshot();
    expect(Object.keys(snapshot.pollRun ?? {})).toEqual(['DynamoDB.GetItem']);
    expect(snapshot.startRun?.['SQS.SendMessageBatch']).toBe(1);
  });

  it('names operations by service, and scopes requests made outside a function as other', () => {
    const local = new RequestMetrics();
    local.count('S3.PutObject');
    local.withScope('mine', () => local.count('SQS.SendMessage'));
    expect(local.snapshot()).toEqual({ mine: { 'SQS.SendMessage': 1 }, other: { 'S3.PutObject': 1 } });
    expect(local.total()).toBe(2);
  });
});
