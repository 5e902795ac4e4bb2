import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidJobError } from '../../lib/errors.ts';
import { concurrencyOf } from '../../lib/job/concurrency.ts';
import { stepSpecOf } from '../../lib/job/dag.ts';
import { defineJob, type StepOptions } from '../../lib/job/defineJob.ts';

const tenantInput = z.object({ tenant: z.string() });

/** A one-step job whose step has these options; planned at definition (no input needed). */
const oneStep = (options: StepOptions) => defineJob('limited', (job) => job.step('call', options, () => 1));

describe('a step’s concurrency option', () => {
  it('evaluates a key function on the run’s input, and a job’s default applies to every step', () => {
    const job = defineJob(
      'per-tenant',
      { input: tenantInput, defaults: { concurrency: { key: (input) => `api-${input.tenant}`, limit: 2 } } },
      (b) => {
        const a = b.step('a', () => 1);
        b.step('b', { dependsOn: { a }, concurrency: { key: 'warehouse', limit: 5 } }, ({ a }) => a);
      },
    );
    const plan = job.plan(job.parseInput({ tenant: 'acme' }));
    expect(concurrencyOf(stepSpecOf(plan, 'a')?.options ?? {})).toEqual({ key: 'api-acme', limit: 2 });
    expect(concurrencyOf(stepSpecOf(plan, 'b')?.options ?? {})).toEqual({ key: 'warehouse', limit: 5 });
  });

  it.each([
    [{ key: 'k', limit: 0 }, /step 'call': concurrency limit must be a whole number from 1 to 10000, got 0/],
    [{ key: 'k', limit: 1.5 }, /limit must be a whole number/],
    [
      { key: '', limit: 1 },
      /step 'call': concurrency key must be 1-200 characters without whitespace.*got ""/,
    ],
    [{ key: 'has space', limit: 1 }, /key must be 1-200 characters/],
    [{ key: () => 42, limit: 1 } as never, /key must be .*got 42/],
  ])('rejects %o at definition, naming the job, the step and what is wrong', (concurrency, message) => {
    expect(() => oneStep({ concurrency })).toThrow(InvalidJobError);
    expect(() => oneStep({ concurrency })).toThrow(message);
  });

  it('says so when the key function throws, and refuses ECS steps (not built yet)', () => {
    const throwing = () => {
      throw new Error('no tenant');
    };
    expect(() => oneStep({ concurrency: { key: throwing, limit: 1 } })).toThrow(
      /job 'limited': step 'call': concurrency key function threw for this run's input: no tenant/,
    );
    expect(() => oneStep({ runtime: 'ecs', concurrency: { key: 'k', limit: 1 } })).toThrow(
      /concurrency is for Lambda steps: not yet with runtime 'ecs'/,
    );
  });
});
