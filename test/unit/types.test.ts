import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../lib/job/defineJob.ts';

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

  it("types a streaming step's entries by name and output", () => {
    defineJob('typed-stream', (job) => {
      const a = job.step('a', () => 1);
      const b = job.step('b', () => 'two');
      job.step('c', { dependsOn: { a, b }, streamUpstream: true }, async (upstream) => {
        for await (const entry of upstream) {
          expectTypeOf(entry).toEqualTypeOf<readonly ['a', number] | readonly ['b', string]>();
        }
        return 0;
      });
    });
  });
});
