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

/** `nested` inner items called, as `<outer>:<element>`, in call order. */
export const innerCalls: string[] = [];
/** Inner elements of `nested` that have failed once (a rerun then runs them clean). */
export const innerFailedOnce = new Set<string>();

/**
 * `nested`: `groups` lists the sizes, `expand` (a map) returns `[g*10, g*10+1, …]` for group
 * g, `scale` (a map over `expand`'s items) doubles each element, `total` collects them.
 * `innerFailOnce` names elements (`<g>:<j>`) that fail on their first attempt.
 */
export const nested = defineJob(
  'nested',
  {
    input: z.object({
      sizes: z.array(z.number().int()).default([2, 0, 3]),
      innerFailOnce: z.array(z.string()).default([]),
      maxConcurrency: z.number().int().optional(),
    }),
  },
  (job, input) => {
    const groups = job.step('groups', () => input.sizes.map((_, g) => g));
    const expand = job.map('expand', { over: groups }, (g: number) =>
      Array.from({ length: input.sizes[g] ?? 0 }, (_, j) => g * 10 + j),
    );
    const scale = job.map(
      'scale',
      {
        over: expand,
        ...(input.maxConcurrency === undefined ? {} : { maxConcurrency: input.maxConcurrency }),
      },
      (value: number, ctx) => {
        const id = `${Math.floor(value / 10)}:${value % 10}`;
        innerCalls.push(id);
        if (input.innerFailOnce.includes(id) && !innerFailedOnce.has(id)) {
          innerFailedOnce.add(id);
          throw new Error(`element ${id} (${ctx.stepKey}) failed once`);
        }
        return value * 2;
      },
    );
    job.step('total', { dependsOn: { scale } }, ({ scale }) => ({ values: scale }));
  },
);
