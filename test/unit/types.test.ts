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

  it('types a map nested in a map by the outer items’ elements, and its collector’s flat list', () => {
    defineJob('typed-nested', (job) => {
      const groups = job.step('groups', () => [1, 2]);
      const expand = job.map('expand', { over: groups }, (g) => {
        expectTypeOf(g).toEqualTypeOf<number>();
        return [`${g}`];
      });
      const inner = job.map('inner', { over: expand }, (element) => {
        expectTypeOf(element).toEqualTypeOf<string>();
        return element.length;
      });
      job.step('sum', { dependsOn: { inner } }, ({ inner }) => {
        expectTypeOf(inner).toEqualTypeOf<number[]>();
        return 0;
      });
      const scalar = job.map('scalar', { over: groups }, (g) => g);
      // @ts-expect-error a map over a map whose items return no list
      job.map('bad', { over: scalar }, (x: number) => x);
    });
  });
});
