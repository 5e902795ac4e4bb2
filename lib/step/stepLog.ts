import type { Log } from '../log.ts';
import type { PayloadStore } from './payload.ts';

/** One line a step body wrote with `ctx.log`. */
export interface StepLogLine {
  readonly at: string;
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

/** A step attempt's log object in S3 (s3Keys.stepLog). */
export interface StepLogDocument {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly lines: readonly StepLogLine[];
  /** Lines past the bounds, counted and left out. */
  readonly dropped: number;
}

/** An attempt keeps at most this many lines, and this many bytes of them. */
export const MAX_LOG_LINES = 1_000;
export const MAX_LOG_BYTES = 256 * 1024;

/**
 * The lines of one attempt, kept as it runs and written to S3 once when it ends: one
 * PutObject per attempt that logged, none for one that did not. Bounded (MAX_LOG_LINES,
 * MAX_LOG_BYTES; later lines are counted as dropped). The lines still go to the worker's
 * own log (stdout, CloudWatch on AWS) as before. An attempt whose worker dies never
 * writes its object: its lines are only in the worker's log.
 */
export class StepLogBuffer {
  private readonly lines: StepLogLine[] = [];
  private bytes = 0;
  private dropped = 0;

  constructor(
    private readonly where: { readonly runId: string; readonly step: string; readonly attempt: number },
    private readonly now: () => Date = () => new Date(),
  ) {}

  add(message: string, fields?: Record<string, unknown>): void {
    const line: StepLogLine = { at: this.now().toISOString(), message, ...(fields ? { fields } : {}) };
    const size = Buffer.byteLength(JSON.stringify(line));
    if (this.lines.length >= MAX_LOG_LINES || this.bytes + size > MAX_LOG_BYTES) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.bytes += size;
  }

  get empty(): boolean {
    return this.lines.length === 0 && this.dropped === 0;
  }

  document(): StepLogDocument {
    return { ...this.where, lines: this.lines, dropped: this.dropped };
  }

  /** Write the attempt's log object if it logged; a failed write is logged, never fails the attempt. */
  async save(payloads: PayloadStore, key: string, log: Log): Promise<void> {
    if (this.empty) return;
    try {
      await payloads.putJson(key, this.document());
    } catch (error) {
      log.warn('could not write the step attempt’s log lines', { ...this.where, error });
    }
  }
}
