import type { RunStatus } from '../status.ts';

/**
 * How long a run status the worker learned stays good enough to start a step on. A cancel
 * that lands inside it can let this worker start one more batch of the run's steps; their
 * write of the run counter returns the new status, and PollRun marks the run's WAITING and
 * QUEUED steps CANCELED, so the cancel holds from the next batch on.
 */
export const RUN_STATUS_FRESH_MS = 1_000;

/** Above this many runs, entries past their freshness are dropped before adding another. */
const PRUNE_ABOVE = 1_000;

/**
 * The statuses of runs as this worker last saw them: from its own consistent reads and
 * from the run counter writes of its successes, which return the run item. A chain's next
 * step on the same worker then starts without a read of its own.
 */
export class RunStatusCache {
  private readonly known = new Map<string, { status: RunStatus; at: number }>();

  constructor(
    private readonly freshMs: number = RUN_STATUS_FRESH_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The run's status if it was seen within the freshness window. */
  fresh(runId: string): RunStatus | undefined {
    const entry = this.known.get(runId);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.freshMs) {
      this.known.delete(runId);
      return undefined;
    }
    return entry.status;
  }

  note(runId: string, status: RunStatus | undefined): void {
    if (status === undefined) return;
    if (this.known.size >= PRUNE_ABOVE) this.prune();
    this.known.set(runId, { status, at: this.now() });
  }

  private prune(): void {
    const oldest = this.now() - this.freshMs;
    for (const [runId, entry] of this.known) if (entry.at < oldest) this.known.delete(runId);
  }
}
