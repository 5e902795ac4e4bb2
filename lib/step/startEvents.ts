import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import type { PreparedEvent } from '../store/runStore.ts';
import type { RunEvent } from '../store/types.ts';
import type { StepMessage } from './messages.ts';

/** A step still running after this long has its STEP_START written on its own. */
export const START_EVENT_DELAY_MS = 1_000;

const attemptKey = (message: StepMessage) => `${message.runId}/${message.step}/${message.attempt}`;

/**
 * The attempts' STEP_START events. One is written in the attempt's next event's item (a
 * short step's START and SUCCESS are one item, one write unit; listEvents returns both), or
 * on its own once the body has run for START_EVENT_DELAY_MS, so a long step shows as started
 * while it runs. Its time is that of the start either way; in the first case it is listed
 * just before its outcome, as it becomes visible with it.
 */
export class StartEvents {
  /** STEP_START events not yet written, by attempt. */
  private readonly pending = new Map<string, { event: PreparedEvent; timer: NodeJS.Timeout }>();

  constructor(private readonly deps: Deps) {}

  /** The body starts: its STEP_START waits for the attempt's next event, or its timer. */
  started(message: StepMessage): void {
    const { runId, step, attempt } = message;
    const key = attemptKey(message);
    const event = this.deps.store.prepareEvent(
      { runId, type: EventType.STEP_START, step, attempt },
      undefined,
      message.expiresAt,
    );
    const timer = setTimeout(() => {
      if (!this.pending.delete(key)) return;
      this.deps.store.putEvents([event]).catch((error: unknown) => {
        this.deps.log.warn('could not write a STEP_START event', { runId, step, attempt, error });
      });
    }, START_EVENT_DELAY_MS);
    timer.unref();
    this.pending.set(key, { event, timer });
  }

  /**
   * The body is over: a STEP_START not yet written waits for the outcome's write (which
   * follows at once), instead of taking a request of its own when recording the outcome
   * takes longer than START_EVENT_DELAY_MS on a busy worker.
   */
  bodyEnded(message: StepMessage): void {
    const pending = this.pending.get(attemptKey(message));
    if (pending) clearTimeout(pending.timer);
  }

  /** The event, prepared, standing for the attempt's STEP_START too if that was not written yet. */
  withStart(message: StepMessage, event: Omit<RunEvent, 'at'>): PreparedEvent {
    return this.deps.store.prepareEvent(event, this.take(message)?.at, message.expiresAt);
  }

  /** The attempt ended: a STEP_START still waiting (another delivery recorded the outcome) is dropped. */
  ended(message: StepMessage): void {
    this.take(message);
  }

  private take(message: StepMessage): PreparedEvent | undefined {
    const key = attemptKey(message);
    const pending = this.pending.get(key);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    this.pending.delete(key);
    return pending.event;
  }
}
