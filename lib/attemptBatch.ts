import type { Log } from './log.ts';
import type { RunStatusCache } from './runStatusCache.ts';
import type { PreparedEvent, RunStore, TablePut } from './store/runStore.ts';
import { withTransientRetries } from './transient.ts';

/**
 * What the attempts of one worker invocation write about themselves, written together when
 * the invocation's batch is done: one run-counter ADD per run (not one per step), and the
 * STEP_START/STEP_SUCCESS events with the attempts' COMPLETED idempotency records in
 * BatchWriteItems of 25 (not two items and an update per step). A chain step's events and
 * record then cost one request, a fan-out batch of 10 steps 1 + 2 instead of 10 + 10 + 10.
 *
 * Written before the invocation returns, so before SQS deletes its messages. A worker that
 * dies first leaves the counters behind, loses those events, and leaves the idempotency
 * records INPROGRESS until they expire with the invocation; the messages come back, their
 * attempts are found SUCCEEDED, and the run is recounted (requestReconcile), as after a
 * crash between a result and its counter.
 */
const RETRIES = { tries: 4, baseMs: 100, maxMs: 2_000 } as const;

export class AttemptBatch {
  private readonly succeeded = new Map<string, number>();
  private readonly puts: TablePut[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly log: Log,
    /** Told the status each counter write returns, so the next step of the run needs no read. */
    private readonly statuses?: RunStatusCache,
  ) {}

  success(runId: string, events: readonly PreparedEvent[]): void {
    this.succeeded.set(runId, (this.succeeded.get(runId) ?? 0) + 1);
    for (const item of events) this.puts.push({ item });
  }

  /** An item of another table written with the events (an attempt's COMPLETED idempotency record). */
  put(table: string, item: object): void {
    this.puts.push({ table, item });
  }

  /** Write what was gathered; never throws (a run whose counter could not be written is recounted). */
  async flush(): Promise<void> {
    const counts = [...this.succeeded];
    const puts = this.puts.splice(0);
    this.succeeded.clear();
    await Promise.all([
      ...counts.map(async ([runId, succeeded]) => {
        try {
          const status = await withTransientRetries(
            () => this.store.addRunCounts(runId, { succeeded }),
            RETRIES,
          );
          this.statuses?.note(runId, status);
        } catch (error) {
          this.log.error('could not add to the run counter; asking for a recount', {
            runId,
            succeeded,
            error,
          });
          await this.store.requestReconcile(runId).catch((reconcileError: unknown) => {
            // The stalled run is recounted by PollRun after LAMBDAG_STALL_SECONDS anyway.
            this.log.error('could not ask for a recount either', { runId, error: reconcileError });
          });
        }
      }),
      (async () => {
        if (puts.length === 0) return;
        try {
          await withTransientRetries(() => this.store.putItems(puts), RETRIES);
        } catch (error) {
          // The step items hold the outcome: the log lines are lost, and idempotency records
          // left INPROGRESS expire with the invocation (a duplicate meanwhile waits for that).
          this.log.error('could not write step events and idempotency records', {
            count: puts.length,
            error,
          });
        }
      })(),
    ]);
  }
}
