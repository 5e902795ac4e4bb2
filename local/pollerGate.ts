/**
 * Which of a mapping's pollers receive next, so that an idle queue has one long poll
 * on it, not one per poller.
 *
 * On SQS a message arriving during several long polls goes to one of them and the others
 * keep waiting. fauxqs wakes every waiting ReceiveMessage instead, and all but one return
 * empty at once and poll again: with 8 pollers, each message of a chain costs 8 receives
 * and the Node.js process they share (handlers, emulators) pays for 7 of them. Lambda's
 * own pollers run outside the function and cost it nothing; here they would slow every
 * step. So, as Lambda scales its pollers with the backlog:
 * - a poller whose last receive was not a full batch is idle: it receives only when no
 *   other poller of the mapping is receiving, or when woken;
 * - a poller that got messages wakes one idle poller to listen while it works, or all of
 *   them when its batch was full (a backlog to share).
 */
/** How often a sleeping poller looks whether anyone is still receiving. */
const RECHECK_MS = 250;

export class PollerGate {
  private receiving = 0;
  private readonly sleepers = new Set<() => void>();

  /**
   * Resolves when this poller should receive: at once unless `idle` (its last receive was
   * not a full batch); else when no other poller is receiving, or when woken. Resolves
   * false once `signal` aborts.
   */
  async turn(idle: boolean, signal: AbortSignal): Promise<boolean> {
    if (!idle) return !signal.aborted;
    let woken = false;
    while (!woken && this.receiving > 0 && !signal.aborted) {
      woken = await new Promise<boolean>((resolve) => {
        const done = (wake: boolean) => () => {
          clearTimeout(timer);
          this.sleepers.delete(onWake);
          signal.removeEventListener('abort', onAbort);
          resolve(wake);
        };
        const onWake = done(true);
        const onAbort = done(false);
        // Look again now and then: the receiving poller ends its long poll within seconds.
        const timer = setTimeout(done(false), RECHECK_MS);
        this.sleepers.add(onWake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return !signal.aborted;
  }

  /** Around each ReceiveMessage. */
  async receive<T>(fn: () => Promise<T>): Promise<T> {
    this.receiving++;
    try {
      return await fn();
    } finally {
      this.receiving--;
    }
  }

  /** A poller got `count` messages of at most `max`: someone listens while it works. */
  received(count: number, max: number): void {
    if (count === 0) return;
    for (const wake of [...this.sleepers]) {
      wake();
      if (count < max) return;
    }
  }
}
