import type { Deps } from '../deps.ts';
import type { JobPlan } from '../job/dag.ts';
import type { RunStatusCache } from '../run/runStatusCache.ts';
import type { RunEvent } from '../store/types.ts';
import { AttemptBatch } from './attemptBatch.ts';
import type { AttemptEvents } from './attemptOutcome.ts';
import type { CompletedRecord, CompletedRecordSink } from './attemptRecords.ts';
import type { RunRef } from './dispatch.ts';
import type { StepMessage } from './messages.ts';
import type { FanInDeferral } from './release.ts';
import { StartEvents } from './startEvents.ts';

export interface AttemptEffectsOptions {
  /**
   * A worker invocation's batch: successes' counters, events and COMPLETED records, and
   * fan-in releases, are gathered and written by `flush` (lib/step/attemptBatch.ts). Without it
   * (an ECS task, one attempt) each is written when it happens.
   */
  readonly batched?: boolean;
  /** Told the status each counter write returns, so the run's next step needs no read. */
  readonly statuses?: RunStatusCache;
}

/**
 * What step attempts do besides running their bodies, for one worker invocation (or one ECS
 * task): their events (STEP_START deferred into the next one: lib/step/startEvents.ts), a
 * success's run counter, its COMPLETED idempotency record (lib/step/attemptRecords.ts hands it
 * here), and its fan-in releases. The runner gets it as a parameter of `run`; in a batch,
 * the success's event and record go out in one BatchWriteItem at `flush`, before the
 * invocation returns.
 */
export class AttemptEffects implements CompletedRecordSink, FanInDeferral {
  private readonly starts: StartEvents;
  private readonly batch: AttemptBatch | undefined;

  constructor(
    private readonly deps: Deps,
    private readonly options: AttemptEffectsOptions = {},
  ) {
    this.starts = new StartEvents(deps);
    this.batch = options.batched ? new AttemptBatch(deps, options.statuses) : undefined;
  }

  /** The attempt's body starts (its STEP_START is deferred). */
  bodyStarted(message: StepMessage): void {
    this.starts.started(message);
  }

  bodyEnded(message: StepMessage): void {
    this.starts.bodyEnded(message);
  }

  /** The attempt is over: a STEP_START never written (another delivery recorded the outcome) is dropped. */
  attemptEnded(message: StepMessage): void {
    this.starts.ended(message);
  }

  /** Write an event of the attempt now, with its STEP_START if that is still waiting. */
  async append(message: StepMessage, event: Omit<RunEvent, 'at'>): Promise<void> {
    await this.deps.store.putEvents([this.starts.withStart(message, event)]);
  }

  /** The attempt's events, for the failure transitions (lib/step/attemptOutcome.ts). */
  eventsOf(message: StepMessage): AttemptEvents {
    return { append: (event) => this.append(message, event) };
  }

  /** A STEP_PROGRESS event, written on its own while the body runs. */
  async progress(message: StepMessage, event: Omit<RunEvent, 'at'>): Promise<void> {
    await this.deps.store.appendEvent(event, message.expiresAt);
  }

  /** The attempt succeeded: its run counter and its STEP_SUCCESS (standing for its STEP_START too). */
  async succeeded(message: StepMessage, event: Omit<RunEvent, 'at'>): Promise<void> {
    if (this.batch) {
      this.batch.success(message.runId, this.starts.withStart(message, event));
      return;
    }
    const status = await this.deps.store.addRunCounts(message.runId, { succeeded: 1 });
    this.options.statuses?.note(message.runId, status);
    await this.append(message, event);
  }

  deferFanIn(
    run: RunRef,
    plan: JobPlan,
    dependent: string,
    upstreamIndex: number,
    delivery?: string,
    upstreamCount?: number,
  ): boolean {
    if (!this.batch) return false;
    this.batch.fanIn(run, plan, dependent, upstreamIndex, delivery, upstreamCount);
    return true;
  }

  completed(record: CompletedRecord): boolean {
    if (!this.batch) return false;
    this.batch.complete(record.table, record.key, record.item);
    return true;
  }

  /**
   * Write what the batch gathered (nothing without one). Throws ReleaseFailedError when a
   * fan-in's release could not be written: the invocation must fail (lib/step/attemptBatch.ts).
   */
  async flush(): Promise<void> {
    await this.batch?.flush();
  }
}
