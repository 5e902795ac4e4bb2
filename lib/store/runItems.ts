import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { RunNotFoundError } from '../errors.ts';
import { RunStatus } from '../status.ts';
import type { DynamoTable } from './dynamoTable.ts';
import type { ItemUpdate } from './itemUpdates.ts';
import { BY_JOB_INDEX, jobGsiPk, RUN_SK, runPk } from './keys.ts';
import { toRun } from './records.ts';
import {
  baseFor,
  type CounterView,
  type RunCountDeltas,
  type RunCounters,
  withCounters,
} from './runCounters.ts';
import type { RunCounts, RunStatusFields, Transition } from './runStore.ts';
import { encodeTaskEntry, type TaskEntry } from './taskEntries.ts';
import type { RunError, RunRecord } from './types.ts';

const runKey = (runId: string) => ({ pk: runPk(runId), sk: RUN_SK });
const EXISTS = { exists: true } as const;

/**
 * The run item, in DynamoDB: its creation, its status transitions, and with the counter
 * items (lib/store/runCounters.ts) its counts. A read of the run reads both; a write is
 * one request (a failed condition that returns no item costs a read more), but for a
 * status change the workers must learn of, which is copied onto the counter items.
 */
export class RunItems {
  constructor(
    private readonly table: DynamoTable,
    private readonly counters: RunCounters,
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
    const { runItem, view } = await this.counters.readWithRun(runId, runKey(runId));
    return runItem ? withCounters(toRun(runItem), view) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RunNotFoundError(runId, this.retentionDays);
    return run;
  }

  linkExecution(runId: string, executionArn: string): Promise<void> {
    return this.table.updateOrThrow(runKey(runId), { set: { executionArn } }, EXISTS);
  }

  async setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set: RunStatusFields,
  ): Promise<Transition<RunRecord>> {
    // Counts given are the run's: the run item keeps what the counter items do not hold.
    const hasCounts = set.succeeded !== undefined || set.failed !== undefined || set.skipped !== undefined;
    const view = hasCounts ? await this.counters.read(runId) : undefined;
    const fields = view ? { ...set, ...baseCounts(set, view) } : set;
    const moved = await this.table.update(
      runKey(runId),
      runStatusUpdate(to, fields, this.table.iso()),
      { status: from },
      toRun,
    );
    return this.seenByWorkers(runId, to, moved);
  }

  async requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>> {
    const now = this.table.iso();
    const moved = await this.table.update(
      runKey(runId),
      cancelRequest(now, reason, abortError),
      { status: CANCELABLE },
      toRun,
    );
    return this.seenByWorkers(runId, RunStatus.CANCELING, moved);
  }

  /**
   * A run stopping with steps maybe in flight tells the workers (its counter items); the
   * run is returned with its counts. A run that SUCCEEDED has no step left to stop.
   */
  private async seenByWorkers(
    runId: string,
    to: RunStatus,
    moved: Transition<RunRecord>,
  ): Promise<Transition<RunRecord>> {
    if (moved.ok && STOPPING_STATUSES.has(to)) await this.counters.copyStatus(runId, to);
    const run = moved.ok ? moved.item : moved.current;
    if (!run) return moved;
    const withCounts = withCounters(run, await this.counters.read(runId));
    return moved.ok ? { ok: true, item: withCounts } : { ok: false, current: withCounts };
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

  addRunCounts(runId: string, deltas: RunCountDeltas, firstError?: RunError): Promise<RunStatus | undefined> {
    return this.counters.add(runId, deltas, firstError);
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

  /** The run item's base becomes what, with the counter items' sums, makes the recount. */
  async setRunCounts(runId: string, counts: RunCounts): Promise<void> {
    const base = baseFor(counts, await this.counters.read(runId));
    await this.table.updateOrThrow(runKey(runId), recount(base, this.table.iso()), EXISTS);
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

export { type RunCountDeltas, runCountsUpdate } from './runCounters.ts';

/** The statuses copied onto the counter items: the workers stop starting the run's steps. */
const STOPPING_STATUSES: ReadonlySet<RunStatus> = new Set([
  RunStatus.CANCELING,
  RunStatus.CANCELED,
  RunStatus.FAILED,
]);

/** The run states a cancel request moves to CANCELING. */
export const CANCELABLE: readonly RunStatus[] = [RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING];

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

/** The counts among `set` as the run item's base (the counter items hold the rest). */
function baseCounts(set: RunStatusFields, view: CounterView): Partial<RunCounts> {
  const base = baseFor(
    { succeeded: set.succeeded ?? 0, failed: set.failed ?? 0, skipped: set.skipped ?? 0 },
    view,
  );
  return {
    ...(set.succeeded === undefined ? {} : { succeeded: base.succeeded }),
    ...(set.failed === undefined ? {} : { failed: base.failed }),
    ...(set.skipped === undefined ? {} : { skipped: base.skipped }),
  };
}

/** setRunCounts's effect: the counters = the recount, the reconcile flag cleared. */
export const recount = (counts: RunCounts, now: string): ItemUpdate => ({
  set: { succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, updatedAt: now },
  remove: ['reconcile'],
});
