import { describe, expect, it } from 'vitest';
import { InvalidJobError } from '../../lib/errors.ts';
import { defineJob } from '../../lib/job/defineJob.ts';
import { nextTick, parseScheduleExpression } from '../../lib/job/schedule.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function jobWith(expression: string, name = 'tick') {
  return () =>
    defineJob('scheduled', { schedules: [{ name, expression }] }, (job) => void job.step('a', () => 1));
}

describe('schedule expressions', () => {
  it('ticks a rate from its anchor', () => {
    const rate = parseScheduleExpression('rate(5 minutes)');
    const anchor = at('2026-11-24T10:00:00Z');
    expect(iso(nextTick(rate, anchor, anchor))).toBe('2026-11-24T10:05:00.000Z');
    expect(iso(nextTick(rate, at('2026-11-24T10:07:00Z'), anchor))).toBe('2026-11-24T10:10:00.000Z');
    expect(iso(nextTick(rate, at('2026-11-24T10:10:00Z'), anchor))).toBe('2026-11-24T10:15:00.000Z');
  });

  it('finds the next cron tick in UTC', () => {
    const nightly = parseScheduleExpression('cron(0 3 * * ? *)');
    expect(iso(nextTick(nightly, at('2026-11-24T15:31:00Z')))).toBe('2026-11-25T03:00:00.000Z');
    // Every 15 minutes on weekdays: Saturday 28 Nov 2026 moves to Monday.
    const weekdays = parseScheduleExpression('cron(0/15 * ? * MON-FRI *)');
    expect(iso(nextTick(weekdays, at('2026-11-28T12:00:00Z')))).toBe('2026-11-30T00:00:00.000Z');
    expect(iso(nextTick(weekdays, at('2026-11-30T00:00:00Z')))).toBe('2026-11-30T00:15:00.000Z');
    // The first of the month at 09:30, in listed months only.
    const quarterly = parseScheduleExpression('cron(30 9 1 JAN,APR,JUL,OCT ? *)');
    expect(iso(nextTick(quarterly, at('2026-11-24T00:00:00Z')))).toBe('2027-01-01T09:30:00.000Z');
    // A year that has passed has no next tick.
    expect(
      nextTick(parseScheduleExpression('cron(0 0 1 1 ? 2025)'), at('2026-01-01T00:00:00Z')),
    ).toBeUndefined();
  });

  it.each([
    ['rate(1 minutes)', 'singular unit for 1'],
    ['rate(5 minute)', 'singular unit for 1 and the plural'],
    ['rate(0 minutes)', 'at least 1'],
    ['rate(2 weeks)', 'is not rate(N unit) or cron'],
    ['cron(0 3 * * *)', 'cron takes 6 fields'],
    ['cron(0 3 * * MON *)', "exactly one of day-of-month and day-of-week must be '?'"],
    ['cron(61 3 * * ? *)', "minutes '61' is not in 0-59"],
    ['cron(0 3 L * ? *)', 'L, W and # are not supported'],
    ['cron(0 5-3 * * ? *)', "hours range '5-3' runs backwards"],
    ['every day', 'is not rate(N unit) or cron'],
  ])('rejects %s, saying why', (expression, why) => {
    expect(() => parseScheduleExpression(expression)).toThrow(why);
  });
});

describe('schedules on a job', () => {
  it('are validated when the job is defined, naming the job and the schedule', () => {
    const error = (() => {
      try {
        jobWith('cron(0 3 * * *)')();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidJobError);
    expect((error as Error).message).toBe(
      "job 'scheduled': schedule 'tick': 'cron(0 3 * * *)': cron takes 6 fields (minutes hours day-of-month month day-of-week year), got 5",
    );
    expect(jobWith('rate(1 hour)', 'Bad Name')).toThrow(
      "schedule 'Bad Name': names are 1-40 lower-case letters",
    );
  });

  it('refuses two schedules with one name', () => {
    expect(() =>
      defineJob(
        'twice',
        {
          schedules: [
            { name: 'a', expression: 'rate(1 hour)' },
            { name: 'a', expression: 'rate(2 hours)' },
          ],
        },
        (job) => void job.step('a', () => 1),
      ),
    ).toThrow("job 'twice': schedule 'a' is declared twice");
  });

  it('are exposed with their job and parsed expression', () => {
    const job = jobWith('rate(1 hour)')();
    expect(job.schedules).toEqual([
      {
        name: 'tick',
        expression: 'rate(1 hour)',
        job: 'scheduled',
        parsed: { kind: 'rate', everyMs: 3_600_000 },
      },
    ]);
  });
});
