import { withTransientRetries } from '../aws/transient.ts';
import type { Deps } from '../deps.ts';
import { ReleaseFailedError } from '../errors.ts';
import type { JobPlan } from '../job/dag.ts';
import type { RunStatusCache } from '../run/runStatusCache.ts';
import type { PreparedEvent, TablePut } from '../store/runStore.ts';
import type { RunRef } from './dispatch.ts';
import { type FanInRelease, releaseFanIn } from './release.ts';

/**
 * What the attempts of one worker invocation write about themselves, written together when
 * the invocation's batch is done:
 * - the fan-in steps they release: one write per fan-in (or per shard of a wide one) for
 *   all its upstream steps in the batch (not one each), then its WAITING -> QUEUED write
 *   and message if none is left;
 * - one run-counter ADD per run (not one per step);
 * - the STEP_SUCCESS events (each standing for its STEP_START too) with the attempts'
 *   COMPLETED idempotency records, in BatchWriteItems of 25 (not an item and an update each).
 * A chain step's event and record then cost one request; a fan-out batch of 10 steps
 * 1 + 1 + 1 instead of 10 + 10 + 10 + 10.
 *
 * Written before the invocation returns, so before SQS deletes its messages, and the
 * COMPLETED records last, after the releases: a record says the attempt's continuation is
 * done. If a release cannot be written, the records are deleted instead and flush throws:
 * the invocation fails, its messages come back within seconds (the handler shortens their
 * visibility), their attempts are found SUCCEEDED and release again. A worker that dies
 * first leaves them INPROGRESS until they expire with the invocation, and its counters
 * behind; the messages come back, their attempts are found SUCCEEDED, they release again,
 * and the run is recounted (requestReconcile), as after any crash between a result and
 * its release.
 */
const RETRIES = { tries: 4, baseMs: 100, maxMs: 2_000 } as const;

interface PendingFanIn {
  readonly run: RunRef;
  readonly plan: JobPlan;
  readonly dependent: string;
  readonly upstreamIndices: number[];
  delivery?: string;
  /** A map step's item count (its fan-in is not in the plan). */
  readonly upstreamCount?: number;
}

export class AttemptBatch {
  private readonly succeeded = new Map<string, number>();
  private readonly puts: TablePut[] = [];
  /** Idempotency records: written after the releases, and deleted instead if one failed. */
  private readonly records: { table: string; key: object; item: object }[] = [];
  private readonly fanIns = new Map<string, PendingFanIn>();

  constructor(
    private readonly deps: Deps,
    /** Told the status each counter write returns, so the next step of the run needs no read. */
    private readonly statuses?: RunStatusCache,
  ) {}

  /** An attempt of run `runId` succeeded: its counter and its STEP_SUCCESS event. */
  success(runId: string, event: PreparedEvent): void {
    this.succeeded.set(runId, (this.succeeded.get(runId) ?? 0) + 1);
    this.puts.push({ item: event });
  }

  /** An attempt's COMPLETED idempotency record (its table's item). */
  complete(table: string, key: object, item: object): void {
    this.records.push({ table, key, item });
  }

  /** Upstream step `upstreamIndex` of fan-in `dependent` succeeded: resolved with the batch's others. */
  fanIn(
    run: RunRef,
    plan: JobPlan,
    dependent: string,
    upstreamIndex: number,
    delivery?: string,
    upstreamCount?: number,
  ): void {
    const key = `${run.runId}/${dependent}`;
    const pending = this.fanIns.get(key) ?? {
      run,
      plan,
      dependent,
      upstreamIndices: [],
      ...(upstreamCount === undefined ? {} : { upstreamCount }),
    };
    pending.upstreamIndices.push(upstreamIndex);
    pending.delivery ??= delivery;
    this.fanIns.set(key, pending);
  }

  /**
   * Write what was gathered. Throws ReleaseFailedError, after writing the rest, when a
   * fan-in's release could not be written: the invocation must fail so that its messages
   * come back and release it. Counter and event failures are logged and recounted.
   */
  async flush(): Promise<void> {
    const fanIns = [...this.fanIns.values()];
    this.fanIns.clear();
    const counts = [...this.succeeded];
    this.succeeded.clear();
    const puts = this.puts.splice(0);
    const records = this.records.splice(0);

    // The counters go alongside; the events and records wait for the releases, since a
    // COMPLETED record must not be written for an attempt whose fan-in release failed.
    const [unreleased] = await Promise.all([
      this.releaseAll(fanIns).then(async (failed) => {
        if (failed.length === 0) {
          await this.writePuts([...puts, ...records]);
        } else {
          await Promise.all([this.writePuts(puts), this.dropRecords(records)]);
        }
        return failed;
      }),
      this.writeCounts(counts),
    ]);
    if (unreleased.length > 0) {
      throw new ReleaseFailedError(
        unreleased.map((f) => f.dependent),
        { cause: unreleased[0]?.error },
      );
    }
  }

  private async releaseAll(fanIns: readonly PendingFanIn[]) {
    const failed: { dependent: string; error: unknown }[] = [];
    await Promise.all(
      fanIns.map(async (fanIn) => {
        const release: FanInRelease = fanIn;
        try {
          let tries = 0;
          await withTransientRetries(() => releaseFanIn(this.deps, release, { retry: tries++ > 0 }), RETRIES);
        } catch (error) {
          this.deps.log.error('could not release a fan-in step; the batch will be delivered again', {
            runId: fanIn.run.runId,
            step: fanIn.dependent,
            error,
          });
          failed.push({ dependent: fanIn.dependent, error });
        }
      }),
    );
    return failed;
  }

  private async writeCounts(counts: readonly [string, number][]): Promise<void> {
    await Promise.all(
      counts.map(async ([runId, succeeded]) => {
        try {
          const status = await withTransientRetries(
            () => this.deps.store.addRunCounts(runId, { succeeded }),
            RETRIES,
          );
          this.statuses?.note(runId, status);
        } catch (error) {
          this.deps.log.error('could not add to the run counter; asking for a recount', {
            runId,
            succeeded,
            error,
          });
          await this.deps.store.requestReconcile(runId).catch((reconcileError: unknown) => {
            // The stalled run is recounted by PollRun after LAMBDAG_STALL_SECONDS anyway.
            this.deps.log.error('could not ask for a recount either', { runId, error: reconcileError });
          });
        }
      }),
    );
  }

  /**
   * A release failed: the invocation will fail and its messages come back. Their attempts'
   * INPROGRESS records are deleted, so the redeliveries run at once (finding the attempts
   * SUCCEEDED, they only release again) instead of waiting for the records to expire with
   * this invocation. If the delete fails too, they do wait for that.
   */
  private async dropRecords(records: readonly { table: string; key: object }[]): Promise<void> {
    const byTable = new Map<string, object[]>();
    for (const { table, key } of records) byTable.set(table, [...(byTable.get(table) ?? []), key]);
    await Promise.all(
      [...byTable].map(async ([table, keys]) => {
        try {
          await withTransientRetries(() => this.deps.store.deleteItems(table, keys), RETRIES);
        } catch (error) {
          this.deps.log.error(
            'could not delete idempotency records; their attempts wait for them to expire',
            {
              count: keys.length,
              error,
            },
          );
        }
      }),
    );
  }

  private async writePuts(puts: readonly TablePut[]): Promise<void> {
    if (puts.length === 0) return;
    try {
      await withTransientRetries(() => this.deps.store.putItems(puts), RETRIES);
    } catch (error) {
      // The step items hold the outcome: the log lines are lost, and idempotency records
      // left INPROGRESS expire with the invocation (a duplicate meanwhile waits for that).
      this.deps.log.error('could not write step events and idempotency records', {
        count: puts.length,
        error,
      });
    }
  }
}
