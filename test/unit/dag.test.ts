import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { diamond } from '../../examples/diamond/job.ts';
import { fanout } from '../../examples/fanout/job.ts';
import { InvalidInputError, InvalidJobError } from '../../lib/errors.ts';
import { descendantsOf, MAX_STEPS } from '../../lib/job/dag.ts';
import { defineJob } from '../../lib/job/defineJob.ts';

function invalid(build: () => unknown): InvalidJobError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidJobError);
    return error as InvalidJobError;
  }
  throw new Error('expected InvalidJobError');
}

describe('defineJob with an invalid DAG', () => {
  it('takes a plan of MAX_STEPS steps and refuses one more, saying how many', () => {
    const wide = defineJob('wide', { input: z.object({ n: z.number() }) }, (job, input) => {
      for (let i = 0; i < input.n; i++) job.step(`s${i}`, () => i);
    });
    expect(wide.plan({ n: MAX_STEPS }).order).toHaveLength(MAX_STEPS);
    expect(invalid(() => wide.plan({ n: MAX_STEPS + 1 })).message).toMatch(
      /has 100001 steps; at most 100000 are allowed in one run/,
    );
  });

  it('names a cycle by its path', () => {
    const error = invalid(() =>
      defineJob('cyclic', (job) => {
        job.step('a', { dependsOn: { c: 'c' } }, () => 1);
        job.step('b', { dependsOn: { a: 'a' } }, () => 2);
        job.step('c', { dependsOn: { b: 'b' } }, () => 3);
      }),
    );
    expect(error.message).toMatch(/has a cycle: (a -> b -> c -> a|b -> c -> a -> b|c -> a -> b -> c)/);
    expect(new Set(error.steps)).toEqual(new Set(['a', 'b', 'c']));
    expect(error.steps.at(0)).toBe(error.steps.at(-1));
    expect(error.code).toBe('INVALID_JOB');
  });

  it('names a step that depends on itself', () => {
    const error = invalid(() =>
      defineJob('selfish', (job) => void job.step('a', { dependsOn: { a: 'a' } }, () => 1)),
    );
    expect(error.message).toBe("job 'selfish': step 'a' depends on itself");
  });

  it('names an unknown dependency and the step that wants it', () => {
    const error = invalid(() =>
      defineJob('dangling', (job) => {
        job.step('a', () => 1);
        job.step('b', { dependsOn: { x: 'missing' } }, () => 2);
      }),
    );
    expect(error.message).toBe("job 'dangling': step 'b' depends on unknown step 'missing'");
    expect(error.steps).toEqual(['b', 'missing']);
  });

  it('rejects a duplicate step key', () => {
    const error = invalid(() =>
      defineJob('dupes', (job) => {
        job.step('a', () => 1);
        job.step('a', () => 2);
      }),
    );
    expect(error.message).toBe("job 'dupes': step key 'a' is defined twice");
  });

  it('rejects step keys with characters that cannot appear in keys and paths', () => {
    for (const key of ['has space', 'slash/y', 'hash#', '', '-leading']) {
      const error = invalid(() => defineJob('badkey', (job) => void job.step(key, () => 1)));
      expect(error.message).toContain(`step key '${key}' is invalid`);
    }
  });

  it('names the step and the option for a bad runtime, onLambdaTimeout, size or timeout', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ runtime: 'fargate' }, "step 'x': runtime must be one of lambda, ecs, got 'fargate'"],
      [{ onLambdaTimeout: 'retry' }, "step 'x': onLambdaTimeout must be one of fail, ecs, got 'retry'"],
      [{ runtime: 'ecs', cpu: 0.5 }, "step 'x': cpu must be a positive whole number, got 0.5"],
      [{ runtime: 'ecs', memoryMb: -1 }, "step 'x': memoryMb must be a positive whole number, got -1"],
      [{ timeoutSeconds: 0 }, "step 'x': timeoutSeconds must be a positive number of seconds, got 0"],
    ];
    for (const [options, message] of cases) {
      const error = invalid(() => defineJob('bad-options', (job) => void job.step('x', options, () => 1)));
      expect(error.message).toContain(message);
      expect(error.steps).toEqual(['x']);
    }
  });

  it('rejects an empty job', () => {
    const error = invalid(() => defineJob('empty', () => {}));
    expect(error.message).toBe("job 'empty': has no steps; define at least one with job.step()");
  });

  it('rejects an invalid job name', () => {
    expect(() => defineJob('Bad Name', (job) => void job.step('a', () => 1))).toThrow(/job names are/);
  });

  it('validates a job whose input is required only when planned', () => {
    const job = defineJob('later', { input: z.object({ n: z.number() }) }, (builder, input) => {
      for (let i = 0; i < input.n; i++) builder.step(i === 1 ? 'dup' : `s${i}`, () => i);
      builder.step('dup', () => 0);
    });
    expect(() => job.plan({ n: 1 })).not.toThrow();
    expect(() => job.plan({ n: 2 })).toThrow("step key 'dup' is defined twice");
  });
});

describe('a valid plan', () => {
  it('orders every step after its upstream, with roots and sinks', () => {
    const plan = diamond.plan({ x: 1 });
    const position = new Map(plan.order.map((key, i) => [key, i]));
    for (const [key, ups] of plan.upstream) {
      for (const up of ups) expect(position.get(up)).toBeLessThan(position.get(key) as number);
    }
    expect(plan.roots).toEqual(['a']);
    expect(plan.sinks).toEqual(['d']);
    expect([...(plan.dependents.get('a') ?? [])].sort()).toEqual(['b', 'c']);
    expect(descendantsOf(plan, 'b')).toEqual(['d']);
  });

  it('fans out to N steps decided by the input', () => {
    const plan = fanout.plan(fanout.parseInput({ n: 7 }));
    expect(plan.order).toHaveLength(9);
    expect(plan.upstream.get('sum')).toHaveLength(7);
  });

  it("indexes a fan-in's upstream steps by their place in its upstream list, and only fan-ins'", () => {
    const plan = fanout.plan(fanout.parseInput({ n: 7 }));
    const index = plan.upstreamIndex.get('sum');
    const upstream = plan.upstream.get('sum') ?? [];
    expect(upstream.map((key) => index?.get(key))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(plan.upstreamIndex.has('square-3')).toBe(false);
  });
});

describe('job input', () => {
  it('applies the schema defaults', () => {
    expect(fanout.parseInput(undefined)).toEqual({ n: 100 });
  });

  it('says where invalid input is wrong', () => {
    expect(() => diamond.parseInput({ x: 'one' })).toThrow(InvalidInputError);
    expect(() => diamond.parseInput({ x: 'one' })).toThrow(/input\.x: .*number/i);
    expect(() => fanout.parseInput({ n: 0 })).toThrow(/input\.n/);
  });
});
