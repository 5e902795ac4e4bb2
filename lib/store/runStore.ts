import type { SerializedError } from '../errors.ts';
import type { RunStatus, StepStatus } from '../status.ts';
import type { TaskEntry } from './taskEntries.ts';
import type { FanInShard, MapExpansion, RunError, RunEvent, RunRecord, StepRecord } from './types.ts';

export { decodeTaskEntry, encodeTaskEntry, type TaskEntry } from './taskEntries.ts';

/** Outcome of a conditional transition: the new item, or the item that failed the precondition. */
export type Transition<T> =
  | { readonly ok: true; readonly item: T }
  | { readonly ok: false; readonly current?: T };

/**
 * The expiry (epoch seconds) of a run's items, the run item's `expiresAt`: every item the
 * store creates for the run carries it as the table's TTL attribute, so the run
 * expires as a whole, with its artifacts (lib/run/retention.ts). Undefined: kept forever (no
 * retention configured, or a run started before runs had one). Only creating writes set
 * it; updates leave it as it is.
 */
export type RunExpiry = number | undefined;

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

export interface PutStepsOptions {
  /** Also (re)write this run's counter items, at zero: only before any of its steps ran. */
  readonly runCounters?: string;
}

/** An item to put; `table` defaults to the runs table. */
export interface TablePut {
  readonly table?: string;
  readonly item: object;
}

/** Fields a run status transition may set besides the status. */
export type RunStatusFields = Partial<
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
    | 'stepsWrittenCount'
    | 'runLimit'
    | 'startedAt'
  >
>;

export interface RunCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface RunStoreOptions {
  readonly now?: () => Date;
  /**
   * The partition keys each run's items are spread over (lib/store/keys.ts; the stage's
   * LAMBDAG_RUN_PARTITIONS). Every function of a stage must use the same number.
   */
  readonly partitions?: number;
  /** How long runs are kept (for RunNotFoundError's message). */
  readonly retentionDays?: number;
}

/**
 * The run store: a run item, one item per step, the run's events and its counter items,
 * spread over partition keys of the runs table (lib/store/keys.ts). Every state change is one conditional write; failed
 * preconditions return the current item (ALL_OLD), never throw. Two implementations:
 * DynamoRunStore (lib/store/dynamoRunStore.ts), and InMemoryRunStore for the engine's
 * unit tests; one contract suite (test/unit/store/runStoreContract.ts) runs on both.
 */
export interface RunStore {
  // ---- the run item (lib/store/runItems.ts) ----------------------------------

  /** Precondition: no run with this id. Effect: run item in STARTING. Outcome: created, or the existing run. */
  createRun(run: RunRecord): Promise<Transition<RunRecord>>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** The run, or RunNotFoundError. */
  requireRun(runId: string): Promise<RunRecord>;
  /** Point the run at the execution now polling it (after a continue-as-new). No run: ConditionalCheckFailedException. */
  linkExecution(runId: string, executionArn: string): Promise<void>;
  /** Precondition: status in `from`. Effect: status = `to` plus `set`. */
  setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set?: RunStatusFields,
  ): Promise<Transition<RunRecord>>;
  /**
   * Precondition: QUEUED, STARTING or RUNNING. Effect: CANCELING with the request time (and reason).
   * Outcome: the CANCELING run, or the run as it is (finished, or already canceling), or
   * none when there is no such run.
   */
  requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>>;
  /**
   * Only the run's status (a projection: the response stays small; the read is still
   * billed on the item's size). `consistent: false` halves the cost where a read a moment
   * stale is fine.
   */
  getRunStatus(runId: string, consistent: boolean): Promise<RunStatus | undefined>;
  /**
   * Effect: counters += deltas; the first error stays (if_not_exists). Unconditional, atomic.
   * Returns the run's status as of the write (the write returns the item, at no extra cost),
   * which a worker keeps to start its next step of the run on (RunStatusCache).
   */
  addRunCounts(
    runId: string,
    deltas: { succeeded?: number; failed?: number; skipped?: number },
    firstError?: RunError,
  ): Promise<RunStatus | undefined>;
  /**
   * An ECS task was launched for a step attempt. Effect: its entry added to the run's
   * `tasks` set (idempotent), which PollRun supervises. Unconditional but for the run existing.
   */
  trackTask(runId: string, entry: TaskEntry): Promise<void>;
  /**
   * Effect: these entries leave the run's `tasks` set (idempotent: absent ones are ignored).
   * Precondition: the run exists (none: nothing to do); an update of a missing item would
   * create it, and a run item that expired would come back as a stub without a TTL.
   */
  untrackTasks(runId: string, entries: readonly TaskEntry[]): Promise<void>;
  /**
   * A map step's items join the run: stepCount += items, and succeeded and reused += the
   * items a rerun reuses; once per map however often it is called (the map's name is kept
   * on the run item). True when this call added them.
   */
  countMapItems(runId: string, map: string, items: number, reused?: number): Promise<boolean>;
  /** Effect: reconcile = true, so the next poll recounts the run from its steps. */
  requestReconcile(runId: string): Promise<void>;
  /** Effect: counters = the recount, reconcile flag cleared. */
  setRunCounts(runId: string, counts: RunCounts): Promise<void>;
  /**
   * Runs of one job, newest first, from the byJob index (never a scan). `before`: a run id
   * from an earlier page (its last run), to list the runs older than it.
   */
  listRuns(job: string, limit?: number, before?: string): Promise<RunRecord[]>;

  // ---- step items (lib/store/stepItems.ts, lib/store/stepTransitions.ts) -----

  /**
   * Effect: step items, and the shard items of wide fan-ins, written with the run's expiry
   * (idempotent overwrite; only before any step of the run is dispatched). With
   * `runCounters`, the run's counter items too (StartRun's first slice of the plan): the
   * counts of addRunCounts go there, so they must exist before any step is dispatched.
   */
  putSteps(
    steps: readonly StepRecord[],
    shards?: readonly FanInShard[],
    expiresAt?: RunExpiry,
    options?: PutStepsOptions,
  ): Promise<void>;
  /**
   * Effect: each step item, and shard item, written only where none is (one conditional put
   * each): a write that lands late, after the item has moved on, changes nothing. Returns how
   * many it created. For writers that may overlap (a map's expansions: lib/step/mapExpansion.ts).
   */
  createSteps(
    steps: readonly StepRecord[],
    shards?: readonly FanInShard[],
    expiresAt?: RunExpiry,
  ): Promise<number>;
  getStep(runId: string, key: string): Promise<StepRecord | undefined>;
  /** Several steps of a run by key (strongly consistent); absent ones are left out. */
  getSteps(runId: string, keys: readonly string[]): Promise<Map<string, StepRecord>>;
  /** All steps of a run in key order, page by page (memory stays bounded by the page size). */
  listSteps(runId: string): AsyncGenerator<StepRecord>;
  /** StepTransitions.claim: attempt n QUEUED (or RUNNING, or with `fromWaiting` WAITING) -> RUNNING, claims += 1. */
  claimStep(
    runId: string,
    key: string,
    attempt: number,
    options?: { readonly taskArn?: string; readonly fromWaiting?: boolean },
  ): Promise<Transition<StepRecord>>;
  /** StepTransitions.succeed: RUNNING attempt n -> SUCCEEDED with its output (inline, or its S3 key). */
  recordSuccess(
    runId: string,
    key: string,
    attempt: number,
    result: StepResult,
    durationMs: number,
  ): Promise<Transition<StepRecord>>;
  /**
   * StepTransitions.slotWait: QUEUED (or WAITING) attempt n -> QUEUED, updatedAt = now (waiting
   * for a slot); with `since`, the attempt's wait start is set unless it has one
   * (slotWaitSinceOf on the step returned).
   */
  noteSlotWait(runId: string, key: string, attempt: number, since?: number): Promise<Transition<StepRecord>>;
  /** StepTransitions.heartbeat: RUNNING attempt n, heartbeatAt = now. */
  heartbeat(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>>;
  /** StepTransitions.relaunch: QUEUED attempt n, relaunches += 1. */
  countRelaunch(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>>;
  /** StepTransitions.fail: RUNNING attempt n -> FAILED for good, with the error. */
  recordFailure(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
  ): Promise<Transition<StepRecord>>;
  /** StepTransitions.retry: RUNNING attempt n -> QUEUED attempt n+1 (promoted to ECS with `promote`). */
  scheduleRetry(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
    options?: { promote?: boolean },
  ): Promise<Transition<StepRecord>>;
  /** StepTransitions.queue: WAITING -> QUEUED by the release that saw it ready. */
  markQueued(runId: string, key: string, releasedBy?: string): Promise<Transition<StepRecord>>;
  /** StepTransitions.skip: WAITING -> SKIPPED with the cause. */
  markSkipped(runId: string, key: string, because: string): Promise<Transition<StepRecord>>;
  /** StepTransitions.cancel: `from` (at attempt n when given) -> CANCELED with the cause. */
  markStepCanceled(
    runId: string,
    key: string,
    from: readonly StepStatus[],
    because: string,
    attempt?: number,
  ): Promise<Transition<StepRecord>>;

  /** StepTransitions.expand: a map step WAITING attempt 1 -> RUNNING, its expansion begun. */
  beginExpansion(
    runId: string,
    key: string,
    map: MapExpansion,
    pending: number,
  ): Promise<Transition<StepRecord>>;
  /** StepTransitions.expansionProgress: a RUNNING map step's expansion recorded as it moves on. */
  recordExpansion(runId: string, key: string, map: MapExpansion): Promise<Transition<StepRecord>>;

  // ---- fan-in counters (lib/store/fanInCounters.ts) ---------------------------

  /**
   * Upstream step number `upstreamIndex` (its place in the dependent's upstream list) has
   * succeeded. Effect, once per upstream however often it is called: pending -= 1. Returns
   * the pending count after; a repeated call returns the current count, so a worker
   * retrying a release after a crash neither decrements twice nor misses the zero. With
   * `shard`, on that shard item of a wide fan-in instead of the step item (lib/step/fanIn.ts;
   * there, the step item's indices are its shards). No such item: ReleaseTargetMissingError.
   */
  resolveDependency(runId: string, key: string, upstreamIndex: number, shard?: number): Promise<number>;
  /**
   * Several upstream steps of one dependent succeeded (a worker invocation's batch): the
   * same effect as resolveDependency for each, in one write when none of them was resolved
   * before, which is the rule (a 10,000-way fan-in then takes 1,000 writes from batches of
   * 10, not 10,000). Otherwise (a redelivery resolving some again) one by one.
   */
  resolveDependencies(
    runId: string,
    key: string,
    upstreamIndices: readonly number[],
    shard?: number,
  ): Promise<number>;

  // ---- the event log (lib/store/eventLog.ts) and batch writes (lib/store/batchWrites.ts)

  /** Write an event now; `expiresAt`: its run's (RunExpiry). */
  appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void>;
  /**
   * An event item stamped now (time and order), with its run's expiry, to be written later
   * with putEvents. With `startedAt`, the item also stands for its attempt's STEP_START at
   * that time, which listEvents returns just before it: a short attempt's start and outcome
   * are one item (one write unit), not two.
   */
  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent;
  /** Write prepared events: one request for one, BatchWriteItem (25 a request) for more. */
  putEvents(events: readonly PreparedEvent[]): Promise<void>;
  /**
   * Events of a run in order; `after` is an event cursor (the last one's sort key) from a
   * previous call. With `limit`, at most that many event items are read (an item may stand
   * for two events, an attempt's start and outcome), and the cursor is where the next page starts.
   */
  listEvents(runId: string, after?: string, limit?: number): Promise<{ events: RunEvent[]; cursor?: string }>;
  /**
   * Unconditional puts, in the runs table or another (an attempt's idempotency record goes
   * with its events): BatchWriteItem, 25 items a request whatever their tables, with
   * unprocessed items sent again.
   */
  putItems(puts: readonly TablePut[]): Promise<void>;
  /** Deletes by key in another table (an attempt's idempotency record): BatchWriteItem, 25 a request. */
  deleteItems(table: string, keys: readonly object[]): Promise<void>;
}
