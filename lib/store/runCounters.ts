import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimit } from '../concurrency.ts';
import { RunStatus } from '../status.ts';
import type { DynamoTable } from './dynamoTable.ts';
import { type ItemUpdate, toExpression } from './itemUpdates.ts';
import { COUNTER_SK, type ItemKey } from './keys.ts';
import { type Item, ttlOf } from './records.ts';
import type { RunCounts, RunExpiry } from './runStore.ts';
import type { RunError, RunRecord } from './types.ts';

/** A change of the run's counters: what the workers add as steps end. */
export type RunCountDeltas = { succeeded?: number; failed?: number; skipped?: number };

const COUNT_FIELDS = ['succeeded', 'failed', 'skipped'] as const;

/**
 * addRunCounts's effect: counters += deltas (zeros left out), the first error kept with
 * its time (the run's first error is the earliest of its counter items').
 */
export const runCountsUpdate = (deltas: RunCountDeltas, now: string, firstError?: RunError): ItemUpdate => ({
  set: { updatedAt: now },
  ...(firstError ? { setIfAbsent: { error: firstError, errorAt: now } } : {}),
  add: Object.fromEntries(Object.entries(deltas).filter(([, delta]) => delta)),
});
const EXISTS = { exists: true } as const;

/**
 * The run counter, sharded: one counter item on each of the run's partition keys
 * (lib/store/keys.ts). Every step that ends adds to one of them, so at a thousand
 * concurrent workers no item takes more than a sixteenth of the writes (docs/scaling.md).
 * The run's counts are the run item's own (a recount's base, a rerun's reused steps) plus
 * the counter items' sums, read with the run item in one BatchGetItem.
 *
 * Each counter item also carries `status`, a copy of the run's status for the workers: the
 * write that adds a step's count returns it, so a worker learns of a cancel without a read
 * (RunStatusCache). It is RUNNING from the plan's writing and is copied over when the run
 * leaves RUNNING. The copy is a hint: what keeps a canceled run's queued steps from starting
 * is PollRun marking them CANCELED, which fails their claim.
 */
export class RunCounters {
  /** Where this process's next count goes: round robin from a random start, so that cold workers do not all begin on one item. */
  private next = Math.floor(Math.random() * 1024);

  constructor(private readonly table: DynamoTable) {}

  /** The counter items a run starts with, written with its plan (StartRun's first slice). */
  initialItems(runId: string, expiresAt: RunExpiry): Item[] {
    return this.table.layout.counterItems(runId).map((key) => ({
      ...key,
      runId,
      status: RunStatus.RUNNING,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      ...ttlOf(expiresAt),
    }));
  }

  /**
   * counters += deltas on one counter item (the first error kept there), which must exist.
   * Returns the run's status as the item knows it.
   */
  async add(runId: string, deltas: RunCountDeltas, firstError?: RunError): Promise<RunStatus | undefined> {
    const partition = this.next++ % this.table.layout.partitions;
    const now = this.table.iso();
    const out = await this.table.ddb.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: this.table.layout.counterItem(runId, partition),
        ...toExpression(runCountsUpdate(deltas, now, firstError), EXISTS),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return out.Attributes?.status as RunStatus | undefined;
  }

  /**
   * The run item (at `runKey`) and the counter items' view of the run, in one strongly
   * consistent BatchGetItem.
   */
  async readWithRun(runId: string, runKey: ItemKey): Promise<{ runItem?: Item; view: CounterView }> {
    const items = await this.table.batchGet([runKey, ...this.table.layout.counterItems(runId)]);
    const runItem = items.find((item) => item.pk === runKey.pk && item.sk === runKey.sk);
    return {
      ...(runItem ? { runItem } : {}),
      view: counterView(items.filter((item) => item.sk === COUNTER_SK)),
    };
  }

  /** The counter items' view of a run alone. */
  async read(runId: string): Promise<CounterView> {
    return counterView(await this.table.batchGet(this.table.layout.counterItems(runId)));
  }

  /**
   * Copy the run's new status onto its counter items (see the class comment). A counter item
   * that does not exist is left so: the plan is not written yet, and its writing starts
   * them RUNNING, before any step is dispatched.
   */
  async copyStatus(runId: string, status: RunStatus): Promise<void> {
    await forEachLimit(this.table.layout.counterItems(runId), 16, async (key) => {
      try {
        await this.table.updateOrThrow(key, { set: { status } }, EXISTS);
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    });
  }
}

export interface CounterView {
  readonly counts: RunCounts;
  readonly updatedAt?: string;
  readonly error?: RunError;
}

/** The counter items summed: counts, the latest write, and the earliest first error. */
export function counterView(items: readonly Item[]): CounterView {
  const counts = { succeeded: 0, failed: 0, skipped: 0 };
  let updatedAt: string | undefined;
  let first: { error: RunError; at: string } | undefined;
  for (const item of items) {
    for (const field of COUNT_FIELDS) counts[field] += Number(item[field] ?? 0);
    const at = item.updatedAt as string | undefined;
    if (at && (!updatedAt || at > updatedAt)) updatedAt = at;
    const error = item.error as RunError | undefined;
    const errorAt = String(item.errorAt ?? '');
    if (error && (!first || errorAt < first.at)) first = { error, at: errorAt };
  }
  return { counts, ...(updatedAt ? { updatedAt } : {}), ...(first ? { error: first.error } : {}) };
}

/**
 * The run as its readers see it: the run item with the counter items' counts added, its
 * updatedAt the latest of all, and its error the run item's or else the earliest a counter
 * kept.
 */
export function withCounters(run: RunRecord, view: CounterView): RunRecord {
  const updatedAt = view.updatedAt && view.updatedAt > run.updatedAt ? view.updatedAt : run.updatedAt;
  const error = run.error ?? view.error;
  return {
    ...run,
    succeeded: (run.succeeded ?? 0) + view.counts.succeeded,
    failed: (run.failed ?? 0) + view.counts.failed,
    skipped: (run.skipped ?? 0) + view.counts.skipped,
    updatedAt,
    ...(error ? { error } : {}),
  };
}

/** The run item's base counts that, with the counters' sums, make `counts` (a recount). */
export function baseFor(counts: RunCounts, view: CounterView): RunCounts {
  return {
    succeeded: counts.succeeded - view.counts.succeeded,
    failed: counts.failed - view.counts.failed,
    skipped: counts.skipped - view.counts.skipped,
  };
}
