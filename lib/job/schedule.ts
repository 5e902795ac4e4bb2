import { z } from 'zod';
import { InvalidJobError, InvalidScheduleError } from '../errors.ts';

/**
 * A schedule on a job: at each tick of `expression`, start a run of the job
 * with `input`. Deployed as an EventBridge Scheduler schedule whose target
 * starts an execution of the run state machine; the embedded stack fires the
 * same schedules itself (`lambdag local up`).
 */
export interface ScheduleOptions {
  /** Unique within the job: lower-case letters, digits and -. */
  readonly name: string;
  /** `rate(5 minutes)` or `cron(0 3 * * ? *)` (EventBridge syntax, UTC). */
  readonly expression: string;
  /** The run input at every tick. */
  readonly input?: unknown;
  readonly description?: string;
  /** Deploy the schedule enabled (default) or disabled. */
  readonly enabled?: boolean;
  /** Only these stages get the schedule (default: every stage). */
  readonly stages?: readonly string[];
}

export interface Schedule extends ScheduleOptions {
  readonly job: string;
  readonly parsed: ScheduleExpression;
}

export type ScheduleExpression =
  | { readonly kind: 'rate'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly fields: CronFields };

interface CronFields {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  /** Undefined when the field is `?` (the other day field decides). */
  readonly daysOfMonth?: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 1 = Sunday ... 7 = Saturday, as in EventBridge. */
  readonly daysOfWeek?: ReadonlySet<number>;
  readonly years: ReadonlySet<number> | 'any';
}

const SCHEDULE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.+)\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export const ScheduleOptionsSchema = z.object({
  name: z.string(),
  expression: z.string(),
  input: z.unknown().optional(),
  description: z.string().max(512).optional(),
  enabled: z.boolean().optional(),
  stages: z.array(z.string().min(1)).optional(),
});

/** Validate a job's schedules at definition time; errors name the job, the schedule and what is wrong. */
export function defineSchedules(job: string, options: readonly ScheduleOptions[] = []): Schedule[] {
  const seen = new Set<string>();
  return options.map((raw, i) => {
    const checked = ScheduleOptionsSchema.safeParse(raw);
    if (!checked.success) {
      throw new InvalidJobError(
        job,
        `schedules[${i}]: ${checked.error.issues.map((e) => `${e.path.join('.')}: ${e.message}`).join('; ')}`,
      );
    }
    const schedule = raw;
    const where = `schedule '${schedule.name}'`;
    if (!SCHEDULE_NAME.test(schedule.name)) {
      throw new InvalidJobError(
        job,
        `${where}: names are 1-40 lower-case letters, digits and -, starting with a letter`,
      );
    }
    if (seen.has(schedule.name)) throw new InvalidJobError(job, `${where} is declared twice`);
    seen.add(schedule.name);
    try {
      return { ...schedule, job, parsed: parseScheduleExpression(schedule.expression) };
    } catch (error) {
      if (!(error instanceof InvalidScheduleError)) throw error;
      throw new InvalidJobError(job, `${where}: ${error.message}`);
    }
  });
}

export function parseScheduleExpression(expression: string): ScheduleExpression {
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] as string;
    if (value < 1) throw new InvalidScheduleError(expression, `'${expression}': the rate must be at least 1`);
    // EventBridge is strict: "1 minute", "5 minutes".
    if ((value === 1) !== !unit.endsWith('s')) {
      throw new InvalidScheduleError(
        expression,
        `'${expression}': use the singular unit for 1 and the plural otherwise (rate(1 minute), rate(5 minutes))`,
      );
    }
    const base = unit.replace(/s$/, '') as keyof typeof UNIT_MS;
    return { kind: 'rate', everyMs: value * UNIT_MS[base] };
  }
  const cron = CRON.exec(expression);
  if (cron) return { kind: 'cron', fields: parseCron(expression, (cron[1] as string).trim().split(/\s+/)) };
  throw new InvalidScheduleError(
    expression,
    `'${expression}' is not rate(N unit) or cron(min hour day-of-month month day-of-week year)`,
  );
}

function parseCron(expression: string, parts: string[]): CronFields {
  if (parts.length !== 6) {
    throw new InvalidScheduleError(
      expression,
      `'${expression}': cron takes 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`,
    );
  }
  const [min, hour, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw new InvalidScheduleError(
      expression,
      `'${expression}': exactly one of day-of-month and day-of-week must be '?'`,
    );
  }
  return {
    minutes: field(expression, 'minutes', min, 0, 59),
    hours: field(expression, 'hours', hour, 0, 23),
    ...(dom === '?' ? {} : { daysOfMonth: field(expression, 'day-of-month', dom, 1, 31) }),
    months: field(expression, 'month', month, 1, 12, MONTHS),
    ...(dow === '?' ? {} : { daysOfWeek: field(expression, 'day-of-week', dow, 1, 7, DAYS) }),
    years: year === '*' ? 'any' : field(expression, 'year', year, 1970, 2199),
  };
}

/** One cron field: `*`, `n`, `a-b`, `a,b`, `*\/s`, `a/s`, `a-b/s`, with names for months and days. */
function field(
  expression: string,
  name: string,
  text: string,
  min: number,
  max: number,
  names?: string[],
): Set<number> {
  const value = (token: string): number => {
    const index = names?.indexOf(token.toUpperCase()) ?? -1;
    const n = index >= 0 ? index + 1 : /^\d+$/.test(token) ? Number(token) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidScheduleError(
        expression,
        `'${expression}': ${name} '${token}' is not in ${min}-${max}${/[LW#]/.test(token) ? ' (L, W and # are not supported)' : ''}`,
      );
    }
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1)
      throw new InvalidScheduleError(
        expression,
        `'${expression}': ${name} step '${stepText}' is not a positive integer`,
      );
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = value(a);
      to = value(b);
      if (from > to)
        throw new InvalidScheduleError(
          expression,
          `'${expression}': ${name} range '${range}' runs backwards`,
        );
    } else {
      from = value(range);
      to = stepText === undefined ? from : max;
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

/** The first tick strictly after `afterMs` (UTC); rates tick from `anchorMs`. Undefined if there is none. */
export function nextTick(expression: ScheduleExpression, afterMs: number, anchorMs = 0): number | undefined {
  if (expression.kind === 'rate') {
    const periods = Math.floor((afterMs - anchorMs) / expression.everyMs) + 1;
    return anchorMs + Math.max(1, periods) * expression.everyMs;
  }
  const f = expression.fields;
  const t = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  // Walk forward field by field; bounded so an impossible expression (31 FEB) ends.
  for (let guard = 0; guard < 200_000; guard++) {
    const year = t.getUTCFullYear();
    if (year > 2199) return undefined;
    if (f.years !== 'any' && !f.years.has(year)) {
      t.setUTCFullYear(year + 1, 0, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!f.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    const dayOk = f.daysOfMonth
      ? f.daysOfMonth.has(t.getUTCDate())
      : (f.daysOfWeek as ReadonlySet<number>).has(t.getUTCDay() + 1);
    if (!dayOk) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!f.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!f.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t.getTime();
  }
  return undefined;
}

/** The client token of one tick: a tick delivered twice starts one run. */
export function scheduleClientToken(schedule: Pick<Schedule, 'job' | 'name'>, tickIso: string): string {
  return `schedule/${schedule.job}/${schedule.name}/${tickIso}`;
}
