import { EventType } from '../eventTypes.ts';
import { RunStatus, TERMINAL_RUN_STATUSES } from '../status.ts';
import type { RunEvent } from '../store/types.ts';

/** The event that closes a run's log, by the final status FinalizeRun gives it. */
const END_EVENT: Partial<Record<RunStatus, string>> = {
  [RunStatus.SUCCEEDED]: EventType.RUN_SUCCESS,
  [RunStatus.FAILED]: EventType.RUN_FAILURE,
  [RunStatus.CANCELED]: EventType.RUN_CANCELED,
};

/** How long a follower reads on after a final status whose end event it has not seen. */
export const END_EVENT_GRACE_MS = 10_000;

/**
 * When a reader following a run's log (`lambdag logs --follow`, the UI's live feed) may
 * stop. FinalizeRun writes the run's final status a moment before its end event
 * (RUN_SUCCESS, RUN_FAILURE, RUN_CANCELED), so a final status alone does not mean the log
 * is complete: the follower stops once it has seen the end event, or when the grace has
 * passed since it first saw the final status (a run ended another way, by an aborted
 * execution, has none).
 */
export class LogFollower {
  private readonly types = new Set<string>();
  private finalSince: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Events read from the log, in order. */
  saw(events: readonly RunEvent[]): void {
    for (const event of events) this.types.add(event.type);
  }

  /** Is the log complete, given the run's status just read (after the events seen)? */
  done(status: RunStatus): boolean {
    if (!TERMINAL_RUN_STATUSES.has(status)) {
      this.finalSince = undefined;
      return false;
    }
    const end = END_EVENT[status];
    if (end !== undefined && this.types.has(end)) return true;
    this.finalSince ??= this.now();
    return this.now() - this.finalSince >= END_EVENT_GRACE_MS;
  }
}
