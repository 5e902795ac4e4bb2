import { z } from 'zod';
import { defineJob } from '../../../lib/job/defineJob.ts';

/** Item values a `squares` run's items were called with, in call order. */
export const itemCalls: number[] = [];
/** Items of `failOnce` that have failed once (a rerun then runs them clean). */
export const failedOnce = new Set<number>();

/**
 * `squares`: `list` returns 0..n-1, `square` maps each to its square (`failAt` items throw),
 * `sum` collects them (streamed) in item order. `keyed` names items `n<value>`.
 */
export const squares = defineJob(
  'squares',
  {
    input: z.object({
      n: z.number().int().default(3),
      maxConcurrency: z.number().int().optional(),
      failAt: z.array(z.number()).default([]),
      failOnce: z.array(z.number()).default([]),
      tolerated: z.union([z.number(), z.string()]).optional(),
      keyed: z.boolean().default(false),
      iterable: z.boolean().default(false),
    }),
  },
  (job, input) => {
    const list = job.step('list', () => {
      const values = Array.from({ length: input.n }, (_, i) => i);
      if (!input.iterable) return values;
      return (async function* () {
        yield* values;
      })();
    });
    const square = job.map(
      'square',
      {
        over: list,
        ...(input.maxConcurrency === undefined ? {} : { maxConcurrency: input.maxConcurrency }),
        ...(input.tolerated === undefined ? {} : { toleratedFailures: input.tolerated as number }),
        ...(input.keyed ? { itemKey: (value: number) => `n${value}` } : {}),
      },
      (value: number) => {
        itemCalls.push(value);
        if (input.failAt.includes(value)) throw new Error(`item ${value} failed`);
        if (input.failOnce.includes(value) && !failedOnce.has(value)) {
          failedOnce.add(value);
          throw new Error(`item ${value} failed once`);
        }
        return value * value;
      },
    );
    job.step('sum', { dependsOn: { square } }, ({ square }) => ({
      values: square,
      total: square.reduce((a, b) => a + b, 0),
    }));
  },
);
