import { z } from 'zod';
import { defineJob } from '../../../lib/job/defineJob.ts';

/**
 * Small jobs for the engine's unit tests. `diamond`: a -> (b, c) -> d, d adds b and c
 * (a fan-in of two); the input's `failAt` names a step that throws every time, `flaky` one
 * that throws on its first attempt only; `retries` applies to every step.
 */
export const calls: string[] = [];

export const diamond = defineJob(
  'diamond',
  {
    input: z.object({
      x: z.number().default(1),
      failAt: z.string().optional(),
      flaky: z.string().optional(),
      retries: z.number().int().default(0),
    }),
  },
  (job, input) => {
    const run = (key: string, value: () => number) => (_: unknown, ctx: { attempt: number }) => {
      calls.push(`${key}@${ctx.attempt}`);
      if (input.failAt === key) throw new Error(`${key} failed`);
      if (input.flaky === key && ctx.attempt === 1) throw new Error(`${key} flaked`);
      return value();
    };
    const options = { retries: input.retries, backoff: { baseSeconds: 1, maxSeconds: 1 } };
    const a = job.step(
      'a',
      options,
      run('a', () => input.x),
    );
    const b = job.step('b', { ...options, dependsOn: { a } }, ({ a }, ctx) => {
      run('b', () => 0)(undefined, ctx);
      return a + 1;
    });
    const c = job.step('c', { ...options, dependsOn: { a } }, ({ a }, ctx) => {
      run('c', () => 0)(undefined, ctx);
      return a * 10;
    });
    job.step('d', { ...options, dependsOn: { b, c } }, ({ b, c }, ctx) => {
      run('d', () => 0)(undefined, ctx);
      return b + c;
    });
  },
);
