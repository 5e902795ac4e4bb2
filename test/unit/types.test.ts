import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../lib/job.ts';

describe('step functions receive upstream outputs typed, with no casts', () => {
  it('infers each upstream output and the run input', () => {
    defineJob('typed', { input: z.object({ x: z.number() }) }, (job) => {
      const a = job.step('a', (_, { input }) => {
        expectTypeOf(input).toEqualTypeOf<{ x: number }>();
        return input.x + 1;
      });
      const b = job.step('b', { dependsOn: { a } }, async ({ a }) => ({ doubled: a * 2 }));
      job.step('c', { dependsOn: { a, b } }, ({ a, b }) => {
        expectTypeOf(a).toEqualTypeOf<number>();
        expectTypeOf(b).toEqualTypeOf<{ doubled: number }>();
        return `${a}:${b.doubled}`;
      });
    });
  });
});
