import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ReleaseTargetMissingError, RunNotFoundError, type SerializedError } from '../errors.ts';
import type { FanInShard } from '../fanIn.ts';
import { newRunId } from '../ids.ts';
import { TTL_ATTRIBUTE } from '../retention.ts';
import { EventType, RunStatus, StepStatus } from '../status.ts';
import {
  BY_JOB_INDEX,
  EVENT_SK_PREFIX,
  fanInShardSk,
  jobGsiPk,
  RUN_SK,
  runPk,
  STEP_SK_PREFIX,
  stepSk,
} from './keys.ts';
import type { RunError, RunEvent, RunRecord, StepRecord } from './types.ts';

/** Outcome of a conditional transition: the new item, or the item that failed the precondition. */
export type Transition<T> =
  | { readonly ok: true; readonly item: T }
  | { readonly ok: false; readonly current?: T };

type Item = Record<string, unknown>;

const BATCH_WRITE = 25;
const BATCH_GET = 100;
const PARALLEL_BATCHES = 4;

export interface RunStoreOptions {
  readonly now?: () => Date;
  /** How long runs are kept (for RunNotFoundError's message). */
  readonly retentionDays?: number;
}

/**
 * The expiry (epoch seconds) of a run's items, the run item's `expiresAt`: every item the
 * store creates in the run's partition carries it as the table's TTL attribute, so the run
 * expires as a whole, with its artifacts (lib/retention.ts). Undefined: kept forever (no
 * retention configured, or a run started before runs had one). Only creating writes set
 * it; updates leave it as it is.
 */
export type RunExpiry = number | undefined;

/**
 * The run store: a run item, one item per step and the run's events, all in one
 * partition of the runs table. Every state change is one conditional write;
 * failed preconditions return the current item (ALL_OLD), never throw.
 */
export class RunStore {
  private readonly now: () => Date;
  private readonly retentionDays: number | undefined;

  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    options: RunStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.retentionDays = options.retentionDays;
  }

  private iso(): string {
    return this.now().toISOString();
  }

  // ---- runs -------------------------------------------------------------

  /** Precondition: no run with this id. Effect: run item in STARTING. Outcome: created, or the existing run. */
  async createRun(run: RunRecord): Promise<Transition<RunRecord>> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...run, pk: runPk(run.runId), sk: RUN_SK, gsi1pk: jobGsiPk(run.job), gsi1sk: run.runId },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, item: run };
    } catch (error) {
      return this.conditionFailed(error, { pk: runPk(run.runId), sk: RUN_SK }, toRun);
    }
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: { pk: runPk(runId), sk: RUN_SK }, ConsistentRead: true }),
    );
    return out.Item ? toRun(out.Item) : undefined;
  }

  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RunNotFoundError(runId, this.retentionDays);
    return run;
  }

  /** Point the run at the execution now polling it (after a continue-as-new). */
  async linkExecution(runId: string, executionArn: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'SET executionArn = :arn',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':arn': executionArn },
      }),
    );
  }

  /** Precondition: status in `from`. Effect: status = `to` plus `set`. */
  async setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set: Partial<
      Pick<
        RunRecord,
        | 'finishedAt'
        | 'result'
        | 'resultKey'
        | 'error'
        | 'failedSteps'
        | 'skippedSteps'
        | 'executionArn'
        | 'succeeded'
        | 'failed'
        | 'skipped'
        | 'canceled'
        | 'stepsWritten'
      >
    > = {},
  ): Promise<Transition<RunRecord>> {
    const names: Record<string, string> = { '#status': 'status', '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':to': to, ':now': this.iso() };
    const sets = ['#status = :to', '#updatedAt = :now'];
    for (const [field, value] of Object.entries(set)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
    const fromNames = from.map((_, i) => `:from${i}`);
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    return this.update(
      { pk: runPk(runId), sk: RUN_SK },
      `SET ${sets.join(', ')}`,
      `#status IN (${fromNames.join(', ')})`,
      names,
      values,
      toRun,
    );
  }

  /**
   * Precondition: STARTING or RUNNING. Effect: CANCELING with the request time (and reason).
   * Outcome: the CANCELING run, or the run as it is (finished, or already canceling), or
   * none when there is no such run.
   */
  requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>> {
    const now = this.iso();
    const values: Record<string, unknown> = {
      ':canceling': RunStatus.CANCELING,
      ':starting': RunStatus.STARTING,
      ':running': RunStatus.RUNNING,
      ':now': now,
    };
    let set = '#status = :canceling, cancelRequestedAt = :now, updatedAt = :now';
    if (reason) {
      values[':reason'] = reason;
      set += ', cancelReason = :reason';
    }
    if (abortError) {
      values[':abortError'] = abortError;
      set += ', abortError = :abortError';
    }
    return this.update(
      { pk: runPk(runId), sk: RUN_SK },
      `SET ${set}`,
      '#status IN (:starting, :running)',
      { '#status': 'status' },
      values,
      toRun,
    );
  }

  /**
   * Only the run's status (a projection: the response stays small; the read is still
   * billed on the item's size). `consistent: false` halves the cost where a read a moment
   * stale is fine.
   */
  async getRunStatus(runId: string, consistent: boolean): Promise<RunStatus | undefined> {
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        ProjectionExpression: '#status',
        ExpressionAttributeNames: { '#status': 'status' },
        ConsistentRead: consistent,
      }),
    );
    return out.Item ? (out.Item.status as RunStatus) : undefined;
  }

  /**
   * Effect: counters += deltas; the first error stays (if_not_exists). Unconditional, atomic.
   * Returns the run's status as of the write (the write returns the item, at no extra cost),
   * which a worker keeps to start its next step of the run on (RunStatusCache).
   */
  async addRunCounts(
    runId: string,
    deltas: { succeeded?: number; failed?: number; skipped?: number },
    firstError?: RunError,
  ): Promise<RunStatus | undefined> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, unknown> = { ':now': this.iso() };
    const adds: string[] = [];
    for (const [field, delta] of Object.entries(deltas)) {
      if (!delta) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = delta;
      adds.push(`#${field} :${field}`);
    }
    const sets = ['#updatedAt = :now'];
    if (firstError) {
      names['#error'] = 'error';
      values[':error'] = firstError;
      sets.push('#error = if_not_exists(#error, :error)');
    }
    const out = await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes?.status as RunStatus | undefined;
  }

  /**
   * An ECS task was launched for a step attempt. Effect: its entry added to the run's
   * `tasks` set (idempotent), which PollRun supervises. Unconditional but for the run existing.
   */
  async trackTask(runId: string, entry: TaskEntry): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'ADD tasks :entry',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':entry': new Set([encodeTaskEntry(entry)]) },
      }),
    );
  }

  /**
   * Effect: these entries leave the run's `tasks` set (idempotent: absent ones are ignored).
   * Precondition: the run exists; an update of a missing item would create it, and a run
   * item that expired would come back as a stub without a TTL, kept forever.
   */
  async untrackTasks(runId: string, entries: readonly TaskEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: runPk(runId), sk: RUN_SK },
          UpdateExpression: 'DELETE tasks :entries',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':entries': new Set(entries.map(encodeTaskEntry)) },
        }),
      );
    } catch (error) {
      // No run: nothing to untrack.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Effect: reconcile = true, so the next poll recounts the run from its steps. */
  async requestReconcile(runId: string): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'SET reconcile = :yes',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':yes': true },
      }),
    );
  }

  /** Effect: counters = the recount, reconcile flag cleared. */
  async setRunCounts(
    runId: string,
    counts: { succeeded: number; failed: number; skipped: number },
  ): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: RUN_SK },
        UpdateExpression: 'SET succeeded = :s, failed = :f, skipped = :k, updatedAt = :now REMOVE reconcile',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: {
          ':s': counts.succeeded,
          ':f': counts.failed,
          ':k': counts.skipped,
          ':now': this.iso(),
        },
      }),
    );
  }

  /** Runs of one job, newest first. */
  async listRuns(job: string, limit = 20): Promise<RunRecord[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: BY_JOB_INDEX,
        KeyConditionExpression: 'gsi1pk = :pk',
        ExpressionAttributeValues: { ':pk': jobGsiPk(job) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map(toRun);
  }

  // ---- steps ------------------------------------------------------------

  /**
   * Effect: step items, and the shard items of wide fan-ins, written with the run's expiry
   * (idempotent overwrite; only before any step of the run is dispatched).
   */
  async putSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[] = [],
    expiresAt?: RunExpiry,
  ): Promise<void> {
    const ttl = ttlOf(expiresAt);
    // `resolvedBy`: the upstream steps (or shards) resolveDependency has counted (a map it adds to).
    const items: Item[] = [
      ...steps.map((step) => ({
        ...step,
        resolvedBy: {},
        ...ttl,
        pk: runPk(step.runId),
        sk: stepSk(step.key),
      })),
      ...shards.map((shard) => ({
        ...shard,
        resolvedBy: {},
        ...ttl,
        pk: runPk(shard.runId),
        sk: fanInShardSk(shard.step, shard.shard),
      })),
    ];
    const chunks: Item[][] = [];
    for (let i = 0; i < items.length; i += BATCH_WRITE) chunks.push(items.slice(i, i + BATCH_WRITE));
    await forEachLimit(chunks, PARALLEL_BATCHES, async (chunk) => {
      await this.batchWrite({ [this.table]: chunk.map((Item) => ({ PutRequest: { Item } })) });
    });
  }

  async getStep(runId: string, key: string): Promise<StepRecord | undefined> {
    const out = await this.ddb.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: stepSk(key) },
        ConsistentRead: true,
      }),
    );
    return out.Item ? toStep(out.Item) : undefined;
  }

  /** Several steps of a run by key (BatchGet, strongly consistent). */
  async getSteps(runId: string, keys: readonly string[]): Promise<Map<string, StepRecord>> {
    const found = new Map<string, StepRecord>();
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET) chunks.push(keys.slice(i, i + BATCH_GET));
    await forEachLimit(chunks, PARALLEL_BATCHES, async (chunk) => {
      let wanted: Item[] = chunk.map((key) => ({ pk: runPk(runId), sk: stepSk(key) }));
      for (let round = 0; wanted.length > 0; round++) {
        if (round > 0) await backoff(round);
        const out = await this.ddb.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: wanted, ConsistentRead: true } } }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const step = toStep(item);
          found.set(step.key, step);
        }
        wanted = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    });
    return found;
  }

  /** All steps of a run, page by page (memory stays bounded by the page size). */
  async *listSteps(runId: string): AsyncGenerator<StepRecord> {
    let start: Item | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': runPk(runId), ':prefix': STEP_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) yield toStep(item);
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Precondition: attempt = n and QUEUED (or RUNNING: a redelivery after the worker holding
   * it died; or, with `fromWaiting`, WAITING: a step released by its message alone, see
   * releasedByMessage). Effect: RUNNING, claims += 1 (so claims > 1 counts the workers lost on it).
   */
  claimStep(
    runId: string,
    key: string,
    attempt: number,
    options: { readonly taskArn?: string; readonly fromWaiting?: boolean } = {},
  ): Promise<Transition<StepRecord>> {
    const { taskArn, fromWaiting = false } = options;
    const now = this.iso();
    const claim = 'SET #status = :running, startedAt = :now, updatedAt = :now';
    // An ECS task records itself (PollRun watches it); a Lambda claim clears an older task's ARN.
    const expression = taskArn
      ? `${claim}, taskArn = :task, heartbeatAt = :now ADD claims :one`
      : `${claim} ADD claims :one REMOVE taskArn, heartbeatAt`;
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      expression,
      `attempt = :attempt AND #status IN (:queued, :running${fromWaiting ? ', :waiting' : ''})`,
      { '#status': 'status' },
      {
        ':running': StepStatus.RUNNING,
        ':queued': StepStatus.QUEUED,
        ...(fromWaiting ? { ':waiting': StepStatus.WAITING } : {}),
        ':attempt': attempt,
        ':now': now,
        ':one': 1,
        ...(taskArn ? { ':task': taskArn } : {}),
      },
      toStep,
    );
  }

  /**
   * Precondition: RUNNING attempt n. Effect: SUCCEEDED with its output: inline when small
   * (`{ output }`), else a pointer to S3 (`{ outputKey }`).
   */
  recordSuccess(
    runId: string,
    key: string,
    attempt: number,
    result: StepResult,
    durationMs: number,
  ): Promise<Transition<StepRecord>> {
    const now = this.iso();
    const inline = 'output' in result;
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      `SET #status = :succeeded, ${inline ? '#output = :output' : 'outputKey = :outputKey'}, finishedAt = :now, updatedAt = :now, durationMs = :d REMOVE #error`,
      'attempt = :attempt AND #status = :running',
      { '#status': 'status', '#error': 'error', ...(inline ? { '#output': 'output' } : {}) },
      {
        ':succeeded': StepStatus.SUCCEEDED,
        ':running': StepStatus.RUNNING,
        ':attempt': attempt,
        ...(inline ? { ':output': result.output ?? null } : { ':outputKey': result.outputKey }),
        ':now': now,
        ':d': durationMs,
      },
      toStep,
    );
  }

  /**
   * A long step's heartbeat. Precondition: RUNNING attempt n. Effect: heartbeatAt and
   * updatedAt = now, so reconciliation (which re-sends a RUNNING step idle for
   * LAMBDAG_RUNNING_LOST_SECONDS) sees the task alive; a dead task's step goes stale.
   */
  heartbeat(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>> {
    const now = this.iso();
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'SET heartbeatAt = :now, updatedAt = :now',
      'attempt = :attempt AND #status = :running',
      { '#status': 'status' },
      { ':running': StepStatus.RUNNING, ':attempt': attempt, ':now': now },
      toStep,
    );
  }

  /**
   * An ECS task of QUEUED attempt n stopped (or never started) before claiming it, and the
   * attempt is sent again. Precondition: QUEUED attempt n. Effect: relaunches += 1.
   */
  countRelaunch(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>> {
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'SET updatedAt = :now ADD relaunches :one',
      'attempt = :attempt AND #status = :queued',
      { '#status': 'status' },
      { ':queued': StepStatus.QUEUED, ':attempt': attempt, ':now': this.iso(), ':one': 1 },
      toStep,
    );
  }

  /** Precondition: RUNNING attempt n. Effect: FAILED for good, with the error. */
  recordFailure(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
  ): Promise<Transition<StepRecord>> {
    const now = this.iso();
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'SET #status = :failed, #error = :error, finishedAt = :now, updatedAt = :now',
      'attempt = :attempt AND #status = :running',
      { '#status': 'status', '#error': 'error' },
      {
        ':failed': StepStatus.FAILED,
        ':running': StepStatus.RUNNING,
        ':attempt': attempt,
        ':error': error,
        ':now': now,
      },
      toStep,
    );
  }

  /**
   * Precondition: RUNNING attempt n. Effect: QUEUED as attempt n+1, with the last error
   * kept; with `promote`, the step runs on ECS from attempt n+1 on (`promotedAt`).
   */
  scheduleRetry(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
    options: { promote?: boolean } = {},
  ): Promise<Transition<StepRecord>> {
    const now = this.iso();
    const promote = options.promote ? ', promotedAt = :next' : '';
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      `SET #status = :queued, attempt = :next, #error = :error, queuedAt = :now, updatedAt = :now, claims = :zero, relaunches = :zero${promote}`,
      'attempt = :attempt AND #status = :running',
      { '#status': 'status', '#error': 'error' },
      {
        ':queued': StepStatus.QUEUED,
        ':running': StepStatus.RUNNING,
        ':attempt': attempt,
        ':next': attempt + 1,
        ':error': error,
        ':now': now,
        ':zero': 0,
      },
      toStep,
    );
  }

  /**
   * Upstream step number `upstreamIndex` (its place in the dependent's upstream list) has
   * succeeded. Effect, once per upstream however often it is called: pending -= 1, the
   * index added to `resolvedBy`. Returns the pending count after; a repeated call returns
   * the current count, so a worker retrying a release after a crash neither decrements
   * twice nor misses the zero. With `shard`, on that shard item of a wide fan-in instead of
   * the step item (lib/fanIn.ts; there, the step item's indices are its shards).
   */
  async resolveDependency(
    runId: string,
    key: string,
    upstreamIndex: number,
    shard?: number,
  ): Promise<number> {
    const itemKey = fanInItemKey(runId, key, shard);
    try {
      // UPDATED_NEW: the counter and the one new map entry come back, not the N already there
      // (a wide fan-in would otherwise return all its entries to each of its writers).
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: itemKey,
          UpdateExpression: 'SET #resolvedBy.#index = :yes ADD #pending :minusOne',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#resolvedBy.#index)',
          ExpressionAttributeNames: {
            '#pending': 'pending',
            '#resolvedBy': 'resolvedBy',
            '#index': String(upstreamIndex),
          },
          ExpressionAttributeValues: { ':minusOne': -1, ':yes': true },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes?.pending);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const out = await this.ddb.send(
          new GetCommand({ TableName: this.table, Key: itemKey, ConsistentRead: true }),
        );
        if (!out.Item) throw new ReleaseTargetMissingError(runId, key, shard);
        return Number(out.Item.pending);
      }
      // A step item written before `resolvedBy` became a map (a run started by an older
      // version) has no map, or a number set: it goes on with the set, as it began.
      if ((error as Error).name === 'ValidationException' && shard === undefined)
        return this.resolveDependencyInSet(runId, key, upstreamIndex);
      throw error;
    }
  }

  /**
   * Several upstream steps of one dependent succeeded (a worker invocation's batch): the
   * same effect as resolveDependency for each, in one write when none of them was resolved
   * before, which is the rule (a 10,000-way fan-in then takes 1,000 writes from batches of
   * 10, not 10,000). Otherwise (a redelivery resolving some again, or an older item's
   * number set) one by one.
   */
  async resolveDependencies(
    runId: string,
    key: string,
    upstreamIndices: readonly number[],
    shard?: number,
  ): Promise<number> {
    const indices = [...new Set(upstreamIndices)];
    if (indices.length === 1) return this.resolveDependency(runId, key, indices[0] as number, shard);
    const names: Record<string, string> = { '#pending': 'pending', '#resolvedBy': 'resolvedBy' };
    indices.forEach((index, i) => {
      names[`#i${i}`] = String(index);
    });
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: fanInItemKey(runId, key, shard),
          UpdateExpression: `SET ${indices.map((_, i) => `#resolvedBy.#i${i} = :yes`).join(', ')} ADD #pending :minus`,
          ConditionExpression: [
            'attribute_exists(pk)',
            ...indices.map((_, i) => `attribute_not_exists(#resolvedBy.#i${i})`),
          ].join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':minus': -indices.length, ':yes': true },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes?.pending);
    } catch (error) {
      if (
        !(error instanceof ConditionalCheckFailedException) &&
        (error as Error).name !== 'ValidationException'
      ) {
        throw error;
      }
      let pending = Number.POSITIVE_INFINITY;
      for (const index of indices)
        pending = Math.min(pending, await this.resolveDependency(runId, key, index, shard));
      return pending;
    }
  }

  private async resolveDependencyInSet(runId: string, key: string, upstreamIndex: number): Promise<number> {
    const outcome = await this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'ADD #pending :minusOne, #resolvedBy :index',
      'attribute_exists(pk) AND NOT contains(#resolvedBy, :indexValue)',
      { '#pending': 'pending', '#resolvedBy': 'resolvedBy' },
      { ':minusOne': -1, ':index': new Set([upstreamIndex]), ':indexValue': upstreamIndex },
      toStep,
    );
    if (outcome.ok) return outcome.item.pending;
    if (!outcome.current) throw new Error(`step '${key}' of run '${runId}' does not exist`);
    return outcome.current.pending;
  }

  /**
   * Precondition: WAITING. Effect: QUEUED (attempt 1), pending = 0. The one writer that wins
   * this transition sends the step's message, so a step is dispatched once.
   */
  markQueued(runId: string, key: string, releasedBy?: string): Promise<Transition<StepRecord>> {
    const now = this.iso();
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      `SET #status = :queued, pending = :zero, queuedAt = :now, updatedAt = :now${releasedBy ? ', releasedBy = :by' : ''}`,
      '#status = :waiting',
      { '#status': 'status' },
      {
        ':queued': StepStatus.QUEUED,
        ':waiting': StepStatus.WAITING,
        ':zero': 0,
        ':now': now,
        ...(releasedBy ? { ':by': releasedBy } : {}),
      },
      toStep,
    );
  }

  /** Precondition: WAITING. Effect: SKIPPED with the cause. */
  markSkipped(runId: string, key: string, because: string): Promise<Transition<StepRecord>> {
    const now = this.iso();
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'SET #status = :skipped, skippedBecause = :because, finishedAt = :now, updatedAt = :now',
      '#status = :waiting',
      { '#status': 'status' },
      { ':skipped': StepStatus.SKIPPED, ':waiting': StepStatus.WAITING, ':because': because, ':now': now },
      toStep,
    );
  }

  /**
   * Precondition: status in `from` (and attempt = n when given). Effect: CANCELED with the
   * cause. A worker's late result for the attempt then fails its own precondition.
   */
  markStepCanceled(
    runId: string,
    key: string,
    from: readonly StepStatus[],
    because: string,
    attempt?: number,
  ): Promise<Transition<StepRecord>> {
    const values: Record<string, unknown> = {
      ':canceled': StepStatus.CANCELED,
      ':because': because,
      ':now': this.iso(),
    };
    from.forEach((status, i) => {
      values[`:from${i}`] = status;
    });
    let condition = `#status IN (${from.map((_, i) => `:from${i}`).join(', ')})`;
    if (attempt !== undefined) {
      values[':attempt'] = attempt;
      condition = `attempt = :attempt AND ${condition}`;
    }
    return this.update(
      { pk: runPk(runId), sk: stepSk(key) },
      'SET #status = :canceled, canceledBecause = :because, finishedAt = :now, updatedAt = :now',
      condition,
      { '#status': 'status' },
      values,
      toStep,
    );
  }

  // ---- events -----------------------------------------------------------

  /** Write an event now; `expiresAt`: its run's (RunExpiry). */
  async appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void> {
    await this.putEvents([this.prepareEvent(event, undefined, expiresAt)]);
  }

  /**
   * An event item stamped now (time and order), with its run's expiry, to be written later
   * with putEvents. With `startedAt`, the item also stands for its attempt's STEP_START at
   * that time, which listEvents returns just before it: a short attempt's start and outcome
   * are one item (one write unit), not two.
   */
  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent {
    return {
      ...event,
      at: this.iso(),
      ...(startedAt ? { startedAt } : {}),
      ...ttlOf(expiresAt),
      pk: runPk(event.runId),
      sk: `${EVENT_SK_PREFIX}${newRunId()}`,
    };
  }

  /** Write prepared events: one request for one, BatchWriteItem (25 a request) for more. */
  async putEvents(events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.ddb.send(new PutCommand({ TableName: this.table, Item: events[0] }));
      return;
    }
    await this.putItems(events.map((item) => ({ item })));
  }

  /**
   * Unconditional puts, in the runs table or another (an attempt's idempotency record goes
   * with its events): BatchWriteItem, 25 items a request whatever their tables, with
   * unprocessed items sent again.
   */
  async putItems(puts: readonly TablePut[]): Promise<void> {
    for (let i = 0; i < puts.length; i += BATCH_WRITE) {
      const requestItems: Record<string, WriteRequest[]> = {};
      for (const put of puts.slice(i, i + BATCH_WRITE)) {
        const table = put.table ?? this.table;
        const requests = requestItems[table] ?? [];
        requests.push({ PutRequest: { Item: put.item as Item } });
        requestItems[table] = requests;
      }
      await this.batchWrite(requestItems);
    }
  }

  /** Deletes by key in another table (an attempt's idempotency record): BatchWriteItem, 25 a request. */
  async deleteItems(table: string, keys: readonly object[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE) {
      await this.batchWrite({
        [table]: keys.slice(i, i + BATCH_WRITE).map((key) => ({ DeleteRequest: { Key: key as Item } })),
      });
    }
  }

  /** One BatchWriteItem (at most 25 requests), sent again with its unprocessed items until none is left. */
  private async batchWrite(requestItems: Record<string, WriteRequest[]>): Promise<void> {
    let pending = requestItems;
    for (let round = 0; Object.values(pending).some((requests) => requests.length > 0); round++) {
      if (round > 0) await backoff(round);
      const out = await this.ddb.send(new BatchWriteCommand({ RequestItems: pending }));
      pending = (out.UnprocessedItems ?? {}) as typeof pending;
    }
  }

  /** Events of a run in order; `after` is an event cursor from a previous call. */
  async listEvents(runId: string, after?: string): Promise<{ events: RunEvent[]; cursor?: string }> {
    const events: RunEvent[] = [];
    let cursor = after;
    let start: Item | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          // After a cursor: the events past it only, not the step items that sort after them.
          KeyConditionExpression: after
            ? 'pk = :pk AND sk BETWEEN :after AND :end'
            : 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': runPk(runId),
            ...(after
              ? { ':after': after, ':end': `${EVENT_SK_PREFIX}\uffff` }
              : { ':prefix': EVENT_SK_PREFIX }),
          },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.sk === after) continue; // BETWEEN includes the cursor itself
        events.push(...eventsOf(item));
        cursor = String(item.sk);
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return cursor === undefined ? { events } : { events, cursor };
  }

  // ---- helpers ----------------------------------------------------------

  private async update<T>(
    key: Item,
    updateExpression: string,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    convert: (item: Item) => T,
  ): Promise<Transition<T>> {
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: updateExpression,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, item: convert(out.Attributes ?? {}) };
    } catch (error) {
      return this.conditionFailed(error, key, convert);
    }
  }

  /**
   * The outcome of a write whose condition failed: the item as it is. Not every
   * DynamoDB implementation returns it (dynalite ignores ReturnValuesOnConditionCheckFailure),
   * so it is read when missing: "no current item" then really means there is none.
   */
  private async conditionFailed<T>(
    error: unknown,
    key: Item,
    convert: (item: Item) => T,
  ): Promise<Transition<T>> {
    const outcome = failed(error, convert);
    if (outcome.ok || outcome.current) return outcome;
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    return out.Item ? { ok: false, current: convert(out.Item) } : { ok: false };
  }
}

/** Only a failed precondition is an outcome; any other error propagates. */
function failed<T>(error: unknown, convert: (item: Item) => T): Transition<T> {
  if (!(error instanceof ConditionalCheckFailedException)) throw error;
  const item = error.Item as Item | undefined;
  // The exception carries the raw (marshalled) item; unmarshall lazily via the document shape.
  return item ? { ok: false, current: convert(unmarshallLoose(item)) } : { ok: false };
}

function unmarshallLoose(item: Item): Item {
  // ConditionalCheckFailedException.Item is in AttributeValue form even through the document client.
  const looksMarshalled = Object.values(item).every(
    (v) => v !== null && typeof v === 'object' && Object.keys(v as object).length === 1,
  );
  return looksMarshalled ? unmarshall(item as Parameters<typeof unmarshall>[0]) : item;
}

function strip(item: Item): Item {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ...rest } = item;
  return rest;
}

/** The TTL attribute of an item created in a run's partition (none when the run has no expiry). */
function ttlOf(expiresAt: RunExpiry): Item {
  return expiresAt === undefined ? {} : { [TTL_ATTRIBUTE]: expiresAt };
}

/** A step's or an event's record: the TTL is the run's, shown on the run record only. */
function stripItem(item: Item): Item {
  const { [TTL_ATTRIBUTE]: _ttl, ...rest } = strip(item);
  return rest;
}
/** Where a succeeded step's output is: inline in its item, or in S3. */
export type StepResult = { readonly output: unknown } | { readonly outputKey: string };

/**
 * An event item ready to write: its time and sort key fixed when it happened, and the start
 * of its attempt when the item stands for its STEP_START too.
 */
export type PreparedEvent = RunEvent & {
  readonly pk: string;
  readonly sk: string;
  readonly startedAt?: string;
  readonly expiresAt?: number;
};

/** A put or delete of one BatchWriteItem. */
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/** An item to put; `table` defaults to the runs table. */
export interface TablePut {
  readonly table?: string;
  readonly item: object;
}

const toRun = (item: Item) => {
  const { tasks, ...run } = strip(item);
  // A string set comes back as a Set: the record holds a plain array.
  return (tasks instanceof Set ? { ...run, tasks: [...tasks] } : run) as unknown as RunRecord;
};

/** One ECS task launched for one step attempt, as PollRun supervises it. */
export interface TaskEntry {
  readonly step: string;
  readonly attempt: number;
  readonly taskArn: string;
}

// Step keys have no spaces (lib/dag.ts), task ARNs have none either.
export const encodeTaskEntry = (e: TaskEntry) => `${e.step} ${e.attempt} ${e.taskArn}`;

export function decodeTaskEntry(text: string): TaskEntry | undefined {
  const [step, attempt, taskArn, ...rest] = text.split(' ');
  if (!step || !taskArn || rest.length > 0 || !Number.isInteger(Number(attempt))) return undefined;
  return { step, attempt: Number(attempt), taskArn };
}
/** `resolvedBy` is bookkeeping of resolveDependency, not part of a step's record. */
const toStep = (item: Item) => {
  const { resolvedBy: _resolvedBy, ...step } = stripItem(item);
  return step as unknown as StepRecord;
};
/** An event item's events: its attempt's STEP_START first when the item stands for it too (prepareEvent). */
function eventsOf(item: Item): RunEvent[] {
  const { startedAt, ...rest } = stripItem(item);
  const event = rest as unknown as RunEvent;
  if (typeof startedAt !== 'string') return [event];
  const start: RunEvent = {
    runId: event.runId,
    type: EventType.STEP_START,
    at: startedAt,
    ...(event.step === undefined ? {} : { step: event.step }),
    ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
  };
  return [start, event];
}

async function backoff(round: number): Promise<void> {
  const cap = Math.min(2_000, 50 * 2 ** round);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
}

export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** The item a fan-in's release counts on: the step's own, or one of its shards. */
const fanInItemKey = (runId: string, key: string, shard: number | undefined) => ({
  pk: runPk(runId),
  sk: shard === undefined ? stepSk(key) : fanInShardSk(key, shard),
});
