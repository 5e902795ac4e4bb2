import type { Log } from './log.ts';
import type { PreparedEvent, RunStore } from './store/runStore.ts';
import { withTransientRetries } from './transient.ts';

/**
 * What the successful attempts of one worker invocation write about themselves, written
 * together when the invocation's batch is done: one run-counter ADD per run (not one per
 * step) and the STEP_START/STEP_SUCCESS events in batches of 25 (not two items per
 * step). A fan-out batch of 10 steps then costs 1 + 1 requests instead of 10 + 10.
 *
 * Written before the invocation returns, so before SQS deletes its messages. A worker that
 * dies first leaves the counters behind and loses those events; the messages come back,
 * their attempts are found SUCCEEDED, and the run is recounted (requestReconcile), as
 * after a crash between a result and its counter.
 */
const RETRIES = { tries: 4, baseMs: 100, maxMs: 2_000 } as const;

export class AttemptBatch {
  private readonly succeeded = new Map<string, number>();
  private readonly events: PreparedEvent[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly log: Log,
  ) {}

  success(runId: string, events: readonly PreparedEvent[]): void {
    this.succeeded.set(runId, (this.succeeded.get(runId) ?? 0) + 1);
    this.events.push(...events);
  }

  /** Write what was gathered; never throws (a run whose counter could not be written is recounted). */
  async flush(): Promise<void> {
    const counts = [...this.succeeded];
    const events = this.events.splice(0);
    this.succeeded.clear();
    await Promise.all([
      ...counts.map(async ([runId, succeeded]) => {
        try {
          await withTransientRetries(() => this.store.addRunCounts(runId, { succeeded }), RETRIES);
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
        if (events.length === 0) return;
        try {
          await withTransientRetries(() => this.store.putEvents(events), RETRIES);
        } catch (error) {
          // The step items hold the outcome; only the log lines are lost.
          this.log.error('could not write step events', { count: events.length, error });
        }
      })(),
    ]);
  }
}
