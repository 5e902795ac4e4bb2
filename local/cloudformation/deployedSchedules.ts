import { nextTick, parseScheduleExpression, type ScheduleExpression } from '../../lib/job/schedule.ts';
import type { Log } from '../../lib/log.ts';
import type { IamAuthority, Principal } from '../iam/authority.ts';
import type { LocalStepFunctions } from '../stepFunctions.ts';
import type { DeployedIam } from './deployedIam.ts';
import { ProvisionError } from './provisionError.ts';

export interface DeployedSchedulesOptions {
  readonly sfn: LocalStepFunctions;
  readonly iam: DeployedIam;
  readonly authority: IamAuthority;
  readonly log: Log;
  /** The clock (tests pass one they move). */
  readonly now?: () => number;
  /** How often due schedules are checked; 0 = only when fireDue() is called. */
  readonly checkEveryMs?: number;
}

/** One tick of a schedule: the execution it started, or why it could not. */
export interface ScheduleFiring {
  readonly schedule: string;
  readonly tick: string;
  readonly executionArn?: string;
  readonly error?: string;
}

interface Schedule {
  readonly name: string;
  readonly expression: ScheduleExpression;
  readonly anchor: number;
  readonly targetArn: string;
  readonly input: string;
  readonly principal: Principal;
  next: number | undefined;
}

/** The placeholder Scheduler fills with the tick's time in a templated target's Input. */
const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

/**
 * EventBridge Scheduler for deployed AWS::Scheduler::Schedule resources whose target is a
 * state machine: at each tick it starts an execution with the target's Input (the tick's time
 * in place of `<aws.scheduler.scheduled-time>`), as the schedule's role, which must be allowed
 * states:StartExecution on it. Rates tick from the schedule's creation; missed ticks are not
 * replayed; a DISABLED schedule does not fire.
 */
export class DeployedSchedules {
  private readonly schedules = new Map<string, Schedule>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  readonly firings: ScheduleFiring[] = [];

  constructor(private readonly options: DeployedSchedulesOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Create or replace a schedule from its template properties. */
  put(name: string, props: Record<string, unknown>): void {
    const target = (props.Target ?? {}) as Record<string, unknown>;
    const targetArn = String(target.Arn ?? '');
    if (!targetArn.startsWith('arn:aws:states:'))
      throw new ProvisionError(
        `Target ${targetArn}: the embedded stack's schedules start state machines only`,
      );
    let expression: ScheduleExpression;
    try {
      expression = parseScheduleExpression(String(props.ScheduleExpression ?? ''));
    } catch (error) {
      throw new ProvisionError(
        `Invalid Schedule Expression ${String(props.ScheduleExpression)}: ${(error as Error).message}`,
      );
    }
    const { principal } = this.options.iam.session(
      name,
      String(target.RoleArn ?? ''),
      'scheduler.amazonaws.com',
    );
    const anchor = this.now();
    this.schedules.set(name, {
      name,
      expression,
      anchor,
      targetArn,
      input: String(target.Input ?? '{}'),
      principal,
      next: props.State === 'DISABLED' ? undefined : nextTick(expression, anchor, anchor),
    });
    this.start();
  }

  delete(name: string): void {
    this.schedules.delete(name);
  }

  /** The schedules that will fire, with their next tick. */
  upcoming(): { name: string; next: string }[] {
    return [...this.schedules.values()]
      .filter((s) => s.next !== undefined)
      .map((s) => ({ name: s.name, next: new Date(s.next as number).toISOString() }));
  }

  /** Fire every schedule whose tick has come (once, however many ticks were missed). */
  fireDue(): ScheduleFiring[] {
    const now = this.now();
    const fired: ScheduleFiring[] = [];
    for (const schedule of this.schedules.values()) {
      if (schedule.next === undefined || schedule.next > now) continue;
      fired.push(this.fire(schedule, schedule.next));
      schedule.next = nextTick(schedule.expression, now, schedule.anchor);
    }
    return fired;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private start(): void {
    const every = this.options.checkEveryMs ?? 1_000;
    if (every <= 0 || this.timer) return;
    this.timer = setInterval(() => this.fireDue(), every);
    this.timer.unref();
  }

  private fire(schedule: Schedule, tickMs: number): ScheduleFiring {
    // Scheduler's <aws.scheduler.scheduled-time>: ISO 8601 without milliseconds.
    const tick = new Date(tickMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const base = { schedule: schedule.name, tick };
    const denied = this.options.authority.authorize(schedule.principal, 'Scheduler.StartExecution', [
      { action: 'states:StartExecution', resource: schedule.targetArn },
    ]);
    let firing: ScheduleFiring;
    try {
      if (denied) throw new ProvisionError(`AccessDeniedException: ${denied.message}`);
      const input = schedule.input.replaceAll(SCHEDULED_TIME, tick);
      firing = {
        ...base,
        executionArn: this.options.sfn.startExecution(schedule.targetArn, input).executionArn,
      };
      this.options.log.info('schedule fired', { ...firing });
    } catch (error) {
      firing = { ...base, error: (error as Error).message };
      this.options.log.error('schedule could not start its target', { ...firing });
    }
    this.firings.push(firing);
    return firing;
  }
}
