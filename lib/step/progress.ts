/** A step's progress reports, written as events at most once per interval (the latest wins). */
export class ProgressReporter {
  private lastWrite = 0;
  private pending: { text: string; data?: Record<string, unknown> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly write: (text: string, data?: Record<string, unknown>) => Promise<void>,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Never throws and never waits: a step's progress must not slow or fail the step. */
  report(text: string, data?: Record<string, unknown>): void {
    if (this.closed) return;
    this.pending = data ? { text, data } : { text };
    if (this.timer) return;
    const wait = this.lastWrite + this.intervalMs - this.now();
    if (wait <= 0) this.flush();
    else {
      this.timer = setTimeout(() => this.flush(), wait);
      this.timer.unref();
    }
  }

  /** Write what is still pending, then take no more reports. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.flush();
    await this.inFlight;
  }

  private flush(): void {
    this.timer = undefined;
    const next = this.pending;
    if (!next) return;
    this.pending = undefined;
    this.lastWrite = this.now();
    this.inFlight = this.inFlight.then(() => this.write(next.text, next.data).catch(this.onError));
  }
}
