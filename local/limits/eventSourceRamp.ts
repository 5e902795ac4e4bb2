/**
 * Lambda's SQS event source scaling in standard mode, emulated: while the queue is idle the
 * mapping long-polls with a few pollers; when messages appear it runs `start` batches at once
 * (AWS: 5) and adds up to `perMinute` more a minute (AWS: 300) while messages remain, up to
 * the mapping's MaximumConcurrency (Lambda Developer Guide, "Configuring scaling behavior for
 * SQS event source mappings"; docs/scaling.md has the source). The embedded event source's
 * pollers wait here for their turn (`waitFor`), and what it reached is recorded (`series`).
 *
 * What is not modelled: scaling down (an idle mapping keeps the pollers it reached), the
 * account's concurrency and Lambda's own scaling rate (they bind later, docs/scaling.md), and
 * provisioned mode (minimum and maximum pollers, 3 times faster): the stages use standard mode.
 */

/** Standard mode: concurrent batches when messages appear (docs/scaling.md has the source). */
export const AWS_ESM_START_CONCURRENCY = 5;
/** Standard mode: at most this many more concurrent batches a minute. */
export const AWS_ESM_RAMP_PER_MINUTE = 300;

export interface EventSourceRampOptions {
  /** Concurrent batches when messages appear (AWS: 5). */
  readonly start: number;
  /** More concurrent batches a minute, at most (AWS: 300). */
  readonly perMinute: number;
  /** The mapping's MaximumConcurrency. */
  readonly maximum: number;
  readonly now?: () => number;
}

/** One level the ramp reached: from `atMs` after messages first appeared, `pollers` could run. */
export interface RampLevel {
  readonly atMs: number;
  readonly pollers: number;
  /** The most invocations that ran at once while this level held. */
  busiest: number;
}

export class EventSourceRamp {
  private startedAt: number | undefined;
  private readonly levels: RampLevel[] = [];
  private readonly waiting = new Set<() => void>();
  private readonly now: () => number;

  constructor(private readonly options: EventSourceRampOptions) {
    this.now = options.now ?? Date.now;
  }

  /** AWS's ramp scaled down: `scale` times fewer batches at the start (at least 1) and a minute. */
  static scaled(scale: number, maximum: number): EventSourceRamp {
    return new EventSourceRamp({
      start: Math.max(1, Math.ceil(AWS_ESM_START_CONCURRENCY / scale)),
      perMinute: AWS_ESM_RAMP_PER_MINUTE / scale,
      maximum,
    });
  }

  /** Pollers that may run now: `start` until messages appear, then one more every 60/perMinute s. */
  allowed(): number {
    const { start, perMinute, maximum } = this.options;
    if (this.startedAt === undefined) return Math.min(start, maximum);
    const added = Math.floor(((this.now() - this.startedAt) / 60_000) * perMinute);
    return Math.min(maximum, start + added);
  }

  /** Messages appeared: the ramp begins (once; an idle spell later does not restart it). */
  begin(): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = this.now();
    for (const wake of [...this.waiting]) wake();
  }

  /**
   * Resolves true when poller `index` (0-based) may run, false if `signal` aborts first. A
   * poller that got its turn keeps it.
   */
  async waitFor(index: number, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted && this.allowed() <= index) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiting.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const delay = this.msUntil(index + 1);
        const timer = delay === undefined ? undefined : setTimeout(done, delay);
        this.waiting.add(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
    if (signal.aborted) return false;
    this.reached(this.allowed());
    return true;
  }

  /** An invocation started with `running` invocations of the mapping running (itself included). */
  invoked(running: number): void {
    const level = this.levels.at(-1);
    if (level) level.busiest = Math.max(level.busiest, running);
  }

  /** The levels reached, in order: the concurrency over time. */
  series(): readonly RampLevel[] {
    return this.levels.map((level) => ({ ...level }));
  }

  private reached(pollers: number): void {
    const last = this.levels.at(-1);
    if (last && last.pollers >= pollers) return;
    const atMs = this.startedAt === undefined ? 0 : this.now() - this.startedAt;
    this.levels.push({ atMs, pollers, busiest: 0 });
  }

  /** How long until `pollers` may run; undefined while the ramp has not begun. */
  private msUntil(pollers: number): number | undefined {
    if (this.startedAt === undefined) return undefined;
    const { start, perMinute } = this.options;
    const at = this.startedAt + Math.ceil(((pollers - start) / perMinute) * 60_000);
    // At least 1 ms: the clock must move past `at` for allowed() to count the new poller.
    return Math.max(1, at - this.now());
  }
}
