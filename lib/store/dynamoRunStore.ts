import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RunStatus } from '../status.ts';
import { BatchWrites } from './batchWrites.ts';
import { DynamoTable } from './dynamoTable.ts';
import { EventLog } from './eventLog.ts';
import { FanInCounters } from './fanInCounters.ts';
import { createItems } from './itemCreation.ts';
import { RunLayout } from './keys.ts';
import { RunCounters } from './runCounters.ts';
import { RunItems } from './runItems.ts';
import type {
  PreparedEvent,
  PutStepsOptions,
  RunCounts,
  RunExpiry,
  RunStatusFields,
  RunStore,
  RunStoreOptions,
  TablePut,
  Transition,
} from './runStore.ts';
import { initialItems, StepItems } from './stepItems.ts';
import { StepTransitionMethods } from './stepTransitionMethods.ts';
import type { StepTransition } from './stepTransitions.ts';
import type { TaskEntry } from './taskEntries.ts';
import type { FanInShard, RunError, RunEvent, RunRecord, StepRecord } from './types.ts';

/**
 * The run store on DynamoDB: the runs table's run item, step items, fan-in counters, event
 * log and batch writes, each in its own module; this class only puts them together
 * behind the RunStore interface (whose methods document each write).
 */
export class DynamoRunStore extends StepTransitionMethods implements RunStore {
  private readonly runs: RunItems;
  private readonly steps: StepItems;
  private readonly fanIns: FanInCounters;
  private readonly events: EventLog;
  private readonly batches: BatchWrites;
  private readonly table: DynamoTable;

  constructor(ddb: DynamoDBDocumentClient, table: string, options: RunStoreOptions = {}) {
    super();
    const layout = new RunLayout(options.partitions);
    const runsTable = new DynamoTable(ddb, table, options.now ?? (() => new Date()), layout);
    this.table = runsTable;
    this.batches = new BatchWrites(runsTable);
    const counters = new RunCounters(runsTable);
    this.runs = new RunItems(runsTable, counters, options.retentionDays);
    this.steps = new StepItems(runsTable, this.batches, counters);
    this.fanIns = new FanInCounters(runsTable);
    this.events = new EventLog(runsTable, this.batches);
  }

  // ---- the run item ---------------------------------------------------------

  createRun(run: RunRecord): Promise<Transition<RunRecord>> {
    return this.runs.createRun(run);
  }
  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.runs.getRun(runId);
  }
  requireRun(runId: string): Promise<RunRecord> {
    return this.runs.requireRun(runId);
  }
  linkExecution(runId: string, executionArn: string): Promise<void> {
    return this.runs.linkExecution(runId, executionArn);
  }
  setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set: RunStatusFields = {},
  ): Promise<Transition<RunRecord>> {
    return this.runs.setRunStatus(runId, from, to, set);
  }
  requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>> {
    return this.runs.requestCancel(runId, reason, abortError);
  }
  getRunStatus(runId: string, consistent: boolean): Promise<RunStatus | undefined> {
    return this.runs.getRunStatus(runId, consistent);
  }
  addRunCounts(
    runId: string,
    deltas: { succeeded?: number; failed?: number; skipped?: number },
    firstError?: RunError,
  ): Promise<RunStatus | undefined> {
    return this.runs.addRunCounts(runId, deltas, firstError);
  }
  trackTask(runId: string, entry: TaskEntry): Promise<void> {
    return this.runs.trackTask(runId, entry);
  }
  untrackTasks(runId: string, entries: readonly TaskEntry[]): Promise<void> {
    return this.runs.untrackTasks(runId, entries);
  }
  countMapItems(runId: string, map: string, items: number, reused = 0): Promise<boolean> {
    return this.runs.countMapItems(runId, map, items, reused);
  }
  requestReconcile(runId: string): Promise<void> {
    return this.runs.requestReconcile(runId);
  }
  setRunCounts(runId: string, counts: RunCounts): Promise<void> {
    return this.runs.setRunCounts(runId, counts);
  }
  listRuns(job: string, limit = 20, before?: string): Promise<RunRecord[]> {
    return this.runs.listRuns(job, limit, before);
  }

  // ---- step items -----------------------------------------------------------

  createSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[] = [],
    expiresAt?: RunExpiry,
  ): Promise<number> {
    return createItems(this.table, initialItems(this.table.layout, steps, shards, expiresAt));
  }
  putSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[] = [],
    expiresAt?: RunExpiry,
    options: PutStepsOptions = {},
  ): Promise<void> {
    return this.steps.putSteps(steps, shards, expiresAt, options);
  }
  getStep(runId: string, key: string): Promise<StepRecord | undefined> {
    return this.steps.getStep(runId, key);
  }
  getSteps(runId: string, keys: readonly string[]): Promise<Map<string, StepRecord>> {
    return this.steps.getSteps(runId, keys);
  }
  listSteps(runId: string): AsyncGenerator<StepRecord> {
    return this.steps.listSteps(runId);
  }
  protected transitionStep<A>(
    runId: string,
    key: string,
    transition: StepTransition<A>,
    args: A,
  ): Promise<Transition<StepRecord>> {
    return this.steps.transition(runId, key, transition, args);
  }

  // ---- fan-in counters ------------------------------------------------------

  resolveDependency(runId: string, key: string, upstreamIndex: number, shard?: number): Promise<number> {
    return this.fanIns.resolveDependency(runId, key, upstreamIndex, shard);
  }
  resolveDependencies(
    runId: string,
    key: string,
    upstreamIndices: readonly number[],
    shard?: number,
  ): Promise<number> {
    return this.fanIns.resolveDependencies(runId, key, upstreamIndices, shard);
  }

  // ---- the event log and batch writes ---------------------------------------

  appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void> {
    return this.events.appendEvent(event, expiresAt);
  }
  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent {
    return this.events.prepareEvent(event, startedAt, expiresAt);
  }
  putEvents(events: readonly PreparedEvent[]): Promise<void> {
    return this.events.putEvents(events);
  }
  listEvents(
    runId: string,
    after?: string,
    limit?: number,
  ): Promise<{ events: RunEvent[]; cursor?: string }> {
    return this.events.listEvents(runId, after, limit);
  }
  putItems(puts: readonly TablePut[]): Promise<void> {
    return this.batches.putItems(puts);
  }
  deleteItems(table: string, keys: readonly object[]): Promise<void> {
    return this.batches.deleteItems(table, keys);
  }
}
