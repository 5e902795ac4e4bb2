import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RunNotFoundError } from '../errors.ts';
import { RunStatus } from '../status.ts';
import type { DynamoTable } from './dynamoTable.ts';
import { type ItemUpdate, toExpression } from './itemUpdates.ts';
import { BY_JOB_INDEX, jobGsiPk, RUN_SK, runPk } from './keys.ts';
import { toRun } from './records.ts';
import type { RunCounts, RunStatusFields, Transition } from './runStore.ts';
import { encodeTaskEntry, type TaskEntry } from './taskEntries.ts';
import type { RunError, RunRecord } from './types.ts';

const runKey = (runId: string) => ({ pk: runPk(runId), sk: RUN_SK });
const EXISTS = { exists: true } as const;

/**
 * The run item, in DynamoDB: its creation, its status transitions and its counters. Each
 * method is one request (a failed condition that returns no item costs a read more).
 */
export class RunItems {
  constructor(
    private readonly table: DynamoTable,
    private readonly retentionDays: number | undefined,
  ) {}

  /** Precondition: no run with this id. Effect: the run item. Outcome: created, or the existing run. */
  async createRun(run: RunRecord): Promise<Transition<RunRecord>> {
    const key = runKey(run.runId);
    try {
      await this.table.ddb.send(
        new PutCommand({
          TableName: this.table.name,
          Item: { ...run, ...key, gsi1pk: jobGsiPk(run.job), gsi1sk: run.runId },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, item: run };
    } catch (error) {
      return this.table.conditionFailed(error, key, toRun);
    }
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const out = await this.table.ddb.send(
      new GetCommand({ TableName: this.table.name, Key: runKey(runId), ConsistentRead: true }),
    );
    return out.Item ? toRun(out.Item) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RunNotFoundError(runId, this.retentionDays);
    return run;
  }

  linkExecution(runId: string, executionArn: string): Promise<void> {
    return this.table.updateOrThrow(runKey(runId), { set: { executionArn } }, EXISTS);
  }

  setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set: RunStatusFields,
  ): Promise<Transition<RunRecord>> {
    return this.table.update(
      runKey(runId),
      runStatusUpdate(to, set, this.table.iso()),
      { status: from },
      toRun,
    );
  }

  requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>> {
    const now = this.table.iso();
    return this.table.update(
      runKey(runId),
      cancelRequest(now, reason, abortError),
      { status: CANCELABLE },
      toRun,
    );
  }

  async getRunStatus(runId: string, consistent: boolean): Promise<RunStatus | undefined> {
    const out = await this.table.ddb.send(
      new GetCommand({
        TableName: this.table.name,
        Key: runKey(runId),
        ProjectionExpression: '#status',
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: consistent,
      }),
    );
    return out.Item ? (out.Item.status as RunStatus) : undefined;
  }

  async addRunCounts(
    runId: string,
    deltas: RunCountDeltas,
    firstError?: RunError,
  ): Promise<RunStatus | undefined> {
    const out = await this.table.ddb.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: runKey(runId),
        ...toExpression(runCountsUpdate(deltas, this.table.iso(), firstError), EXISTS),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes?.status as RunStatus | undefined;
  }

  trackTask(runId: string, entry: TaskEntry): Promise<void> {
    return this.table.updateOrThrow(
      runKey(runId),
      { add: { tasks: new Set([encodeTaskEntry(entry)]) } },
      EXISTS,
    );
  }

  async untrackTasks(runId: string, entries: readonly TaskEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.table.updateOrThrow(
        runKey(runId),
        { delete: { tasks: new Set(entries.map(encodeTaskEntry)) } },
        EXISTS,
      );
    } catch (error) {
      // No run: nothing to untrack.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** One conditional ADD: the map's name goes into `mapsCounted` with its items, or nothing happens. */
  async countMapItems(runId: string, map: string, items: number, reused = 0): Promise<boolean> {
    const reusedAdds = reused > 0 ? ', #succeeded :reused, #reused :reused' : '';
    try {
      await this.table.ddb.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: runKey(runId),
          UpdateExpression: `ADD #stepCount :items, #maps :map${reusedAdds} SET #updatedAt = :now`,
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(#maps, :name)',
          ExpressionAttributeNames: {
            '#stepCount': 'stepCount',
            '#maps': 'mapsCounted',
            '#updatedAt': 'updatedAt',
            ...(reused > 0 ? { '#succeeded': 'succeeded', '#reused': 'reused' } : {}),
          },
          ExpressionAttributeValues: {
            ':items': items,
            ':map': new Set([map]),
            ':name': map,
            ':now': this.table.iso(),
            ...(reused > 0 ? { ':reused': reused } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  requestReconcile(runId: string): Promise<void> {
    return this.table.updateOrThrow(runKey(runId), { set: { reconcile: true } }, EXISTS);
  }

  setRunCounts(runId: string, counts: RunCounts): Promise<void> {
    return this.table.updateOrThrow(runKey(runId), recount(counts, this.table.iso()), EXISTS);
  }

  async listRuns(job: string, limit: number, before?: string): Promise<RunRecord[]> {
    const out = await this.table.ddb.send(
      new QueryCommand({
        TableName: this.table.name,
        IndexName: BY_JOB_INDEX,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': jobGsiPk(job) },
        ScanIndexForward: false,
        Limit: limit,
        // The index key of the run item `before` (its sort key is the run id): the page after it.
        ...(before
          ? { ExclusiveStartKey: { ...runKey(before), gsi1pk: jobGsiPk(job), gsi1sk: before } }
          : {}),
      }),
    );
    return (out.Items ?? []).map(toRun);
  }
}

export type RunCountDeltas = { succeeded?: number; failed?: number; skipped?: number };

/** The run states a cancel request moves to CANCELING. */
export const CANCELABLE: readonly RunStatus[] = [RunStatus.STARTING, RunStatus.RUNNING];

// The run item's writes, declared once for both stores (lib/store/itemUpdates.ts).

/** setRunStatus's effect: status = `to` plus `set`, updatedAt = now. */
export const runStatusUpdate = (to: RunStatus, set: RunStatusFields, now: string): ItemUpdate => ({
  set: { status: to, updatedAt: now, ...set },
});

/** requestCancel's effect: CANCELING with the request time (and reason, and the error of an abort). */
export const cancelRequest = (now: string, reason?: string, abortError?: RunError): ItemUpdate => ({
  set: {
    status: RunStatus.CANCELING,
    cancelRequestedAt: now,
    updatedAt: now,
    ...(reason ? { cancelReason: reason } : {}),
    ...(abortError ? { abortError } : {}),
  },
});

/** addRunCounts's effect: counters += deltas (zeros left out), the first error kept. */
export const runCountsUpdate = (deltas: RunCountDeltas, now: string, firstError?: RunError): ItemUpdate => ({
  set: { updatedAt: now },
  ...(firstError ? { setIfAbsent: { error: firstError } } : {}),
  add: Object.fromEntries(Object.entries(deltas).filter(([, delta]) => delta)),
});

/** setRunCounts's effect: the counters = the recount, the reconcile flag cleared. */
export const recount = (counts: RunCounts, now: string): ItemUpdate => ({
  set: { succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, updatedAt: now },
  remove: ['reconcile'],
});
