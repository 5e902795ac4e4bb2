import { nextTick, type Schedule, scheduleClientToken } from '../lib/job/schedule.ts';
import type { Log } from '../lib/log.ts';

export interface SchedulerOptions {
  /** Only schedules deployed to this stage fire. */
  readonly stage: string;
  /** The clock (tests pass a fake one). */
  readonly now?: () => number;
  /** How often due schedules are checked; 0 = never by itself (call fireDue()). */
  readonly checkEveryMs?: number;
}

export interface Firing {
  readonly job: string;
  readonly schedule: string;
  readonly tick: string;
  readonly executionArn?: string;
  readonly error?: string;
}

/** Starts an execution of the run state machine with this input; returns its ARN. */
export type StartExecution = (input: string) => string;

/**
 * EventBridge Scheduler for the embedded stack: fires each job schedule at its
 * ticks by starting an execution of the run state machine, with the same input
 * the deployed schedule sends (job, input, and a client token naming the tick,
 * so a tick delivered twice starts one run). Rate schedules tick from the
 * moment the scheduler starts; ticks missed while the stack was down are not replayed.
 */
export class LocalScheduler {
  private readonly now: () => number;
  private readonly next = new Map<Schedule, number>();
  private readonly anchor: number;
  private timer: NodeJS.Timeout | undefined;
  readonly firings: Firing[] = [];

  constructor(
    schedules: readonly Schedule[],
    private readonly startExecution: StartExecution,
    private readonly log: Log,
    private readonly options: SchedulerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.anchor = this.now();
    for (const schedule of schedules) {
      if (schedule.enabled === false) continue;
      if (schedule.stages && !schedule.stages.includes(options.stage)) continue;
      const first = nextTick(schedule.parsed, this.anchor, this.anchor);
      if (first !== undefined) this.next.set(schedule, first);
    }
  }

  /** The schedules that will fire, with their next tick. */
  upcoming(): { job: string; schedule: string; expression: string; next: string }[] {
    return [...this.next].map(([s, at]) => ({
      job: s.job,
      schedule: s.name,
      expression: s.expression,
      next: new Date(at).toISOString(),
    }));
  }

  start(): void {
    const every = this.options.checkEveryMs ?? 1_000;
    if (every <= 0 || this.timer) return;
    this.timer = setInterval(() => this.fireDue(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Fire every schedule whose tick has come (once each, however many ticks were missed). */
  fireDue(): Firing[] {
    const now = this.now();
    const fired: Firing[] = [];
    for (const [schedule, at] of this.next) {
      if (at > now) continue;
      fired.push(this.fire(schedule, at));
      const following = nextTick(schedule.parsed, now, this.anchor);
      if (following === undefined) this.next.delete(schedule);
      else this.next.set(schedule, following);
    }
    return fired;
  }

  /** Fire one tick of a schedule (also how a test delivers a tick twice). */
  fire(schedule: Schedule, tickMs: number): Firing {
    // The format of Scheduler's <aws.scheduler.scheduled-time>: no milliseconds.
    const tick = new Date(tickMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const input = JSON.stringify({
      job: schedule.job,
      input: schedule.input ?? {},
      clientToken: scheduleClientToken(schedule, tick),
    });
    let firing: Firing;
    try {
      firing = { job: schedule.job, schedule: schedule.name, tick, executionArn: this.startExecution(input) };
      this.log.info('schedule fired', { ...firing });
    } catch (error) {
      firing = { job: schedule.job, schedule: schedule.name, tick, error: (error as Error).message };
      this.log.error('schedule could not start a run', { ...firing });
    }
    this.firings.push(firing);
    return firing;
  }
}
