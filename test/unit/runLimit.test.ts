import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidJobError } from '../../lib/errors.ts';
import { defineJob } from '../../lib/job/defineJob.ts';
import type { RunLimitOption } from '../../lib/job/runLimit.ts';
import {
  MAX_QUEUED_WAIT_SECONDS,
  queuedRunWaitSeconds,
  RUN_LEASE_MS,
  renewalDue,
} from '../../lib/limits/runSlotPolicy.ts';

const tenantInput = z.object({ tenant: z.string() });

/** A one-step job with this `maxConcurrentRuns`. */
const limited = (maxConcurrentRuns: RunLimitOption) =>
  defineJob('nightly', { maxConcurrentRuns }, (job) => {
    job.step('a', () => 1);
  });

describe('a job’s maxConcurrentRuns', () => {
  it('limits all the job’s runs together when it is a number', () => {
    expect(limited(2).runLimit({})).toEqual({ key: 'RUNS#nightly', limit: 2 });
  });

  it('limits runs per key, a constant or a function of the run’s input', () => {
    expect(limited({ key: 'warehouse', limit: 1 }).runLimit({})).toEqual({
      key: 'RUNS#nightly#warehouse',
      limit: 1,
    });
    const perTenant = defineJob(
      'per-tenant',
      { input: tenantInput, maxConcurrentRuns: { key: (input) => input.tenant, limit: 3 } },
      (job) => {
        job.step('a', () => 1);
      },
    );
    expect(perTenant.runLimit(perTenant.parseInput({ tenant: 'acme' }))).toEqual({
      key: 'RUNS#per-tenant#acme',
      limit: 3,
    });
  });

  it('is no limit when left out', () => {
    expect(defineJob('free', (job) => job.step('a', () => 1)).runLimit({})).toBeUndefined();
  });

  it.each([
    [0, /job 'nightly': maxConcurrentRuns limit must be a whole number from 1 to 10000, got 0/],
    [1.5, /limit must be a whole number from 1 to 10000, got 1.5/],
    [10_001, /got 10001/],
    ['2' as never, /maxConcurrentRuns must be a number or an object \{ key, limit \}/],
    [{ key: 'k', limit: -1 }, /limit must be a whole number/],
    [
      { key: 'has space', limit: 1 },
      /maxConcurrentRuns key must be 1-200 characters without whitespace.*"has space"/,
    ],
    [{ key: '', limit: 1 }, /key must be 1-200 characters/],
  ])('rejects %o at definition, naming the job and what is wrong', (option, message) => {
    expect(() => limited(option)).toThrow(InvalidJobError);
    expect(() => limited(option)).toThrow(message);
  });

  it('rejects a key function’s bad answer when the run starts', () => {
    const job = defineJob(
      'per-tenant',
      {
        input: tenantInput,
        maxConcurrentRuns: { key: (input) => (input.tenant === 'x' ? '' : 'k'), limit: 1 },
      },
      (b) => {
        b.step('a', () => 1);
      },
    );
    expect(() => job.runLimit({ tenant: 'x' })).toThrow(/maxConcurrentRuns key must be .*got ""/);
    const throwing = limited({
      key: () => {
        throw new Error('no tenant');
      },
      limit: 1,
    });
    expect(() => throwing.runLimit({})).toThrow(
      /maxConcurrentRuns key function threw for this run's input: no tenant/,
    );
  });

  it('keeps steps’ concurrency keys apart from run keys', () => {
    expect(() =>
      defineJob('steps', (job) => job.step('a', { concurrency: { key: 'RUNS#nightly', limit: 1 } }, () => 1)),
    ).toThrow(/step 'a': concurrency key must not start with 'RUNS#'/);
  });
});

describe('a queued run’s wait between asks', () => {
  it('is a tenth of its wait so far, from 1 s up to 30 s', () => {
    expect(queuedRunWaitSeconds(0)).toBe(1);
    expect(queuedRunWaitSeconds(5_000)).toBe(1);
    expect(queuedRunWaitSeconds(60_000)).toBe(6);
    expect(queuedRunWaitSeconds(3_600_000)).toBe(MAX_QUEUED_WAIT_SECONDS);
  });

  it('costs a bounded number of asks however long the run waits: about 2 a minute past 5 minutes', () => {
    let waited = 0;
    let asks = 0;
    while (waited < 3_600_000) {
      waited += queuedRunWaitSeconds(waited) * 1000;
      asks++;
    }
    // 1 s waits first, then growing ones: an hour in line is about 156 asks, not 3,600.
    expect(asks).toBeLessThan(160);
  });
});

describe('a running run’s slot lease', () => {
  it('is renewed once less than half of it is left, and at once when its end is unknown', () => {
    const now = 1_800_000_000_000;
    expect(renewalDue(undefined, now)).toBe(true);
    expect(renewalDue(now + RUN_LEASE_MS, now)).toBe(false);
    expect(renewalDue(now + RUN_LEASE_MS / 2 + 1, now)).toBe(false);
    expect(renewalDue(now + RUN_LEASE_MS / 2 - 1, now)).toBe(true);
  });
});
