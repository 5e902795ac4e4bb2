import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { ReleaseTargetMissingError, RunNotFoundError } from '../errors.ts';
import type { RunStatus } from '../status.ts';
import { EVENTS_END, prepareEvent } from './eventLog.ts';
import { fanInItemKey } from './fanInCounters.ts';
import { applyUpdate, type ItemCondition, type ItemUpdate, meets } from './itemUpdates.ts';
import { EVENT_SK_PREFIX, jobGsiPk, RUN_SK, RunLayout, runPk, STEP_SK_PREFIX } from './keys.ts';
import { eventsOf, type Item, toRun, toStep } from './records.ts';
import { CANCELABLE, cancelRequest, recount, runCountsUpdate, runStatusUpdate } from './runItems.ts';
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
import { initialItems } from './stepItems.ts';
import { StepTransitionMethods } from './stepTransitionMethods.ts';
import { type StepTransition, stepWrite } from './stepTransitions.ts';
import { encodeTaskEntry, type TaskEntry } from './taskEntries.ts';
import type { FanInShard, RunError, RunEvent, RunRecord, StepRecord } from './types.ts';

type Key = { readonly pk: string; readonly sk: string };
const EXISTS = { exists: true } as const;
/**
 * A run's items besides the run item on one partition key: a map has no partitions to
 * spread over. The counts stay on the run item (the DynamoDB store's counter items add
 * up to the same); which runs had their counter items written is kept, as a count on a
 * run without them fails there.
 */
const LAYOUT = new RunLayout(1);

export interface InMemoryRunStoreOptions extends RunStoreOptions {
  /**
   * The key attributes of tables other than the runs table that putItems/deleteItems reach
   * (by table name); default `['id']`, the key of Powertools' idempotency table.
   */
  readonly keysOf?: Readonly<Record<string, readonly string[]>>;
}

/**
 * The run store in memory, for the engine's unit tests: the same items as the DynamoDB
 * store (built by the same functions), the same writes (the same declared updates and
 * conditions, lib/store/itemUpdates.ts), the same outcomes and errors, and the same
 * orders (steps and events by sort key, runs newest first). test/unit/store's contract
 * suite runs on both. Every item is copied in and out, as a database would.
 */
export class InMemoryRunStore extends StepTransitionMethods implements RunStore {
  /** The runs table: partition -> sort key -> item. */
  private readonly partitions = new Map<string, Map<string, Item>>();
  /** Other tables' items, by table, by their key (JSON of its attributes). */
  private readonly others = new Map<string, Map<string, Item>>();
  private readonly now: () => Date;
  /** Runs whose counter items the DynamoDB store would have (putSteps with runCounters). */
  private readonly counted = new Set<string>();

  constructor(private readonly options: InMemoryRunStoreOptions = {}) {
    super();
    this.now = options.now ?? (() => new Date());
  }

  /** Items of a table other than the runs table (what putItems left there), for tests. */
  itemsOf(table: string): Item[] {
    return [...(this.others.get(table)?.values() ?? [])].map(copy);
  }

  // ---- the run item ---------------------------------------------------------

  async createRun(run: RunRecord): Promise<Transition<RunRecord>> {
    const key = runKey(run.runId);
    const current = this.get(key);
    if (current) return { ok: false, current: toRun(current) };
    this.put({ ...run, ...key, gsi1pk: jobGsiPk(run.job), gsi1sk: run.runId });
    return { ok: true, item: run };
  }
  async getRun(runId: string): Promise<RunRecord | undefined> {
    const item = this.get(runKey(runId));
    return item ? toRun(item) : undefined;
  }
  async requireRun(runId: string): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (!run) throw new RunNotFoundError(runId, this.options.retentionDays);
    return run;
  }
  async linkExecution(runId: string, executionArn: string): Promise<void> {
    this.updateOrThrow(runKey(runId), { set: { executionArn } }, EXISTS);
  }
  async setRunStatus(
    runId: string,
    from: readonly RunStatus[],
    to: RunStatus,
    set: RunStatusFields = {},
  ): Promise<Transition<RunRecord>> {
    return this.update(runKey(runId), runStatusUpdate(to, set, this.iso()), { status: from }, toRun);
  }
  async requestCancel(runId: string, reason?: string, abortError?: RunError): Promise<Transition<RunRecord>> {
    return this.update(
      runKey(runId),
      cancelRequest(this.iso(), reason, abortError),
      { status: CANCELABLE },
      toRun,
    );
  }
  async getRunStatus(runId: string, _consistent: boolean): Promise<RunStatus | undefined> {
    return this.get(runKey(runId))?.status as RunStatus | undefined;
  }
  async addRunCounts(
    runId: string,
    deltas: { succeeded?: number; failed?: number; skipped?: number },
    firstError?: RunError,
  ): Promise<RunStatus | undefined> {
    if (!this.counted.has(runId)) throw conditionalCheckFailed();
    return this.updateOrThrow(runKey(runId), runCountsUpdate(deltas, this.iso(), firstError), EXISTS)
      .status as RunStatus | undefined;
  }
  async trackTask(runId: string, entry: TaskEntry): Promise<void> {
    this.updateOrThrow(runKey(runId), { add: { tasks: new Set([encodeTaskEntry(entry)]) } }, EXISTS);
  }
  async untrackTasks(runId: string, entries: readonly TaskEntry[]): Promise<void> {
    if (entries.length === 0 || !this.get(runKey(runId))) return;
    this.updateOrThrow(runKey(runId), { delete: { tasks: new Set(entries.map(encodeTaskEntry)) } }, EXISTS);
  }
  async countMapItems(runId: string, map: string, items: number, reused = 0): Promise<boolean> {
    const run = this.get(runKey(runId));
    const counted = run?.mapsCounted as Set<string> | undefined;
    if (!run || counted?.has(map)) return false;
    const add: Record<string, number> = reused > 0 ? { succeeded: reused, reused } : {};
    this.updateOrThrow(
      runKey(runId),
      { add: { stepCount: items, mapsCounted: new Set([map]), ...add } },
      EXISTS,
    );
    return true;
  }
  async requestReconcile(runId: string): Promise<void> {
    this.updateOrThrow(runKey(runId), { set: { reconcile: true } }, EXISTS);
  }
  async setRunCounts(runId: string, counts: RunCounts): Promise<void> {
    this.updateOrThrow(runKey(runId), recount(counts, this.iso()), EXISTS);
  }
  async listRuns(job: string, limit = 20, before?: string): Promise<RunRecord[]> {
    const runs: Item[] = [];
    for (const partition of this.partitions.values()) {
      const run = partition.get(RUN_SK);
      if (run?.gsi1pk !== jobGsiPk(job)) continue;
      if (before === undefined || compare(String(run.gsi1sk), before) < 0) runs.push(run);
    }
    return runs
      .sort((a, b) => compare(String(b.gsi1sk), String(a.gsi1sk)))
      .slice(0, limit)
      .map((item) => toRun(copy(item)));
  }

  // ---- step items -----------------------------------------------------------

  async putSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[] = [],
    expiresAt?: RunExpiry,
    options: PutStepsOptions = {},
  ): Promise<void> {
    for (const item of initialItems(LAYOUT, steps, shards, expiresAt)) this.put(item);
    if (options.runCounters) this.counted.add(options.runCounters);
  }
  async createSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[] = [],
    expiresAt?: RunExpiry,
  ): Promise<number> {
    let created = 0;
    for (const item of initialItems(LAYOUT, steps, shards, expiresAt)) {
      if (this.get(item as Key)) continue;
      this.put(item);
      created++;
    }
    return created;
  }
  async getStep(runId: string, key: string): Promise<StepRecord | undefined> {
    const item = this.get(LAYOUT.stepItem(runId, key));
    return item ? toStep(item) : undefined;
  }
  async getSteps(runId: string, keys: readonly string[]): Promise<Map<string, StepRecord>> {
    const found = new Map<string, StepRecord>();
    for (const key of keys) {
      const item = this.get(LAYOUT.stepItem(runId, key));
      if (item) found.set(key, toStep(item));
    }
    return found;
  }
  async *listSteps(runId: string): AsyncGenerator<StepRecord> {
    for (const item of this.query(LAYOUT.partitionPk(runId, 0), (sk) => sk.startsWith(STEP_SK_PREFIX)))
      yield toStep(item);
  }

  // ---- fan-in counters ------------------------------------------------------

  async resolveDependency(
    runId: string,
    key: string,
    upstreamIndex: number,
    shard?: number,
  ): Promise<number> {
    return this.resolve(runId, key, [upstreamIndex], shard);
  }
  async resolveDependencies(
    runId: string,
    key: string,
    upstreamIndices: readonly number[],
    shard?: number,
  ): Promise<number> {
    return this.resolve(runId, key, [...new Set(upstreamIndices)], shard);
  }

  // ---- the event log and batch writes ---------------------------------------

  async appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void> {
    this.put(prepareEvent(LAYOUT, this.iso(), event, undefined, expiresAt));
  }
  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent {
    return prepareEvent(LAYOUT, this.iso(), event, startedAt, expiresAt);
  }
  async putEvents(events: readonly PreparedEvent[]): Promise<void> {
    for (const event of events) this.put(event);
  }
  async listEvents(
    runId: string,
    after?: string,
    limit?: number,
  ): Promise<{ events: RunEvent[]; cursor?: string }> {
    const items = this.query(LAYOUT.partitionPk(runId, 0), (sk) =>
      after === undefined
        ? sk.startsWith(EVENT_SK_PREFIX)
        : compare(sk, after) > 0 && compare(sk, EVENTS_END) <= 0,
    ).slice(0, limit);
    const events = items.flatMap(eventsOf);
    const cursor = items.length ? String(items.at(-1)?.sk) : after;
    return cursor === undefined ? { events } : { events, cursor };
  }
  async putItems(puts: readonly TablePut[]): Promise<void> {
    for (const { table, item } of puts) {
      if (table === undefined) this.put(item as Item);
      else this.tableOf(table).set(this.otherKey(table, item as Item), copy(item as Item));
    }
  }
  async deleteItems(table: string, keys: readonly object[]): Promise<void> {
    for (const key of keys) this.tableOf(table).delete(this.otherKey(table, key as Item));
  }

  // ---- the table ------------------------------------------------------------

  private iso(): string {
    return this.now().toISOString();
  }

  private get(key: Key): Item | undefined {
    const item = this.partitions.get(key.pk)?.get(key.sk);
    return item ? copy(item) : undefined;
  }

  private put(item: object): void {
    const { pk, sk } = item as Key;
    const partition = this.partitions.get(pk) ?? new Map<string, Item>();
    partition.set(sk, copy(item as Item));
    this.partitions.set(pk, partition);
  }

  /** A partition's items whose sort key passes `match`, in sort-key order. */
  private query(pk: string, match: (sk: string) => boolean): Item[] {
    const partition = this.partitions.get(pk) ?? new Map<string, Item>();
    return [...partition.keys()]
      .filter(match)
      .sort(compare)
      .map((sk) => copy(partition.get(sk) as Item));
  }

  /** A conditional update with its outcome, as DynamoDB's ALL_NEW / ALL_OLD. */
  private update<T>(
    key: Key,
    update: ItemUpdate,
    condition: ItemCondition,
    convert: (item: Item) => T,
  ): Transition<T> {
    const current = this.get(key);
    if (!meets(current, condition)) return current ? { ok: false, current: convert(current) } : { ok: false };
    const next = applyUpdate(current, update);
    this.put(next);
    return { ok: true, item: convert(copy(next)) };
  }

  /** A conditional update whose failed condition throws, as DynamoDB's UpdateItem does. */
  private updateOrThrow(key: Key, update: ItemUpdate, condition: ItemCondition): Item {
    const outcome = this.update(key, update, condition, (item) => item);
    if (!outcome.ok) throw conditionalCheckFailed();
    return outcome.item;
  }

  protected transitionStep<A>(
    runId: string,
    key: string,
    transition: StepTransition<A>,
    args: A,
  ): Promise<Transition<StepRecord>> {
    const { update, condition } = stepWrite(transition, args, this.iso());
    return Promise.resolve(this.update(LAYOUT.stepItem(runId, key), update, condition, toStep));
  }

  /**
   * Count `indices` on the fan-in item, each once: all in one write when none was counted
   * before, else those not yet counted (the DynamoDB store's one-by-one fallback ends the
   * same). Returns the pending count after.
   */
  private resolve(runId: string, key: string, indices: readonly number[], shard?: number): number {
    const itemKey = fanInItemKey(LAYOUT, runId, key, shard);
    const item = this.get(itemKey);
    if (!item) throw new ReleaseTargetMissingError(runId, key, shard);
    const resolvedBy = { ...(item.resolvedBy as Record<string, boolean>) };
    const fresh = indices.filter((index) => !resolvedBy[String(index)]);
    for (const index of fresh) resolvedBy[String(index)] = true;
    const pending = Number(item.pending) - fresh.length;
    this.put({ ...item, resolvedBy, pending });
    return pending;
  }

  private tableOf(table: string): Map<string, Item> {
    const items = this.others.get(table) ?? new Map<string, Item>();
    this.others.set(table, items);
    return items;
  }

  private otherKey(table: string, item: Item): string {
    return JSON.stringify((this.options.keysOf?.[table] ?? ['id']).map((attribute) => item[attribute]));
  }
}

const runKey = (runId: string): Key => ({ pk: runPk(runId), sk: RUN_SK });

/** Sort-key order: DynamoDB compares strings by their UTF-8 bytes. */
function compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A deep copy without undefined values (the document client drops them: removeUndefinedValues). */
function copy<T extends object>(item: T): T {
  return structuredClone(dropUndefined(item));
}

function dropUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(dropUndefined) as T;
  if (value === null || typeof value !== 'object' || value instanceof Set) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, dropUndefined(v)]),
  ) as T;
}

function conditionalCheckFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}
