import { z } from 'zod';
import { defineJob, type StepRef } from '../lib/job/defineJob.ts';

/** `n` no-op steps in a chain: per-step latency with nothing else going on. */
export const chain = defineJob(
  'bench-chain',
  { input: z.object({ n: z.number().int().min(1) }) },
  (job, input) => {
    let previous: StepRef<number> = job.step('c-0', () => 0);
    for (let i = 1; i < input.n; i++) {
      previous = job.step(`c-${i}`, { dependsOn: { previous } }, ({ previous }) => previous + 1);
    }
  },
);

/** bench-chain with a keyed concurrency limit it never reaches: what taking and giving back a slot costs. */
export const limitedChain = defineJob(
  'bench-limited-chain',
  { input: z.object({ n: z.number().int().min(1) }) },
  (job, input) => {
    const concurrency = { key: 'bench-chain', limit: 1_000 };
    let previous: StepRef<number> = job.step('c-0', { concurrency }, () => 0);
    for (let i = 1; i < input.n; i++) {
      previous = job.step(`c-${i}`, { dependsOn: { previous }, concurrency }, ({ previous }) => previous + 1);
    }
  },
);

/** One step returning `bytes` of output that the next step reads and measures. */
export const bigOutput = defineJob(
  'bench-big-output',
  { input: z.object({ bytes: z.number().int().min(1) }) },
  (job) => {
    const make = job.step('make', (_, { input }) => 'x'.repeat(input.bytes));
    job.step('measure', { dependsOn: { make } }, ({ make }) => make.length);
  },
);

/**
 * `n` steps each returning `bytes` of output (in S3, past the inline size), and one fan-in
 * step adding up their lengths: given them all at once as an object (`stream: false`), or
 * streamed a page at a time (`streamUpstream`). The fan-in also reports the most heap it
 * saw live (after a full GC: what is held, not garbage), at its start and, streamed, after
 * every 100 outputs. Needs `--expose-gc`, which `npm run bench` passes.
 */
export const wideFanIn = defineJob(
  'bench-wide-fan-in',
  { input: z.object({ n: z.number().int().min(1), bytes: z.number().int().min(1), stream: z.boolean() }) },
  (job, input) => {
    const parts: Record<string, StepRef<string>> = {};
    for (let i = 0; i < input.n; i++) {
      parts[`p${i}`] = job.step(`part-${i}`, (_, { input }) => 'x'.repeat(input.bytes));
    }
    if (input.stream) {
      job.step('total', { dependsOn: parts, streamUpstream: true }, async (outputs) => {
        let total = 0;
        let count = 0;
        let liveHeapBytes = liveHeap();
        for await (const [, part] of outputs) {
          total += part.length;
          if (++count % 100 === 0) liveHeapBytes = Math.max(liveHeapBytes, liveHeap());
        }
        return { total, liveHeapBytes };
      });
    } else {
      job.step('total', { dependsOn: parts }, (outputs) => {
        const liveHeapBytes = liveHeap();
        let total = 0;
        for (const part of Object.values(outputs)) total += part.length;
        return { total, liveHeapBytes };
      });
    }
  },
);

/** The heap in use after a full collection. */
export function liveHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the wide fan-in benchmark needs node --expose-gc (npm run bench passes it)');
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * 1 -> N -> 1 with N up to a million (the `fanout` example stops at 10,000): the scale case
 * (`npm run bench -- --cases scale`). Each step returns its index; `sum` adds them streamed.
 */
export const wide = defineJob(
  'bench-wide',
  { input: z.object({ n: z.number().int().min(1).max(1_000_000) }) },
  (job, input) => {
    const root = job.step('root', () => 0);
    const items: Record<string, StepRef<number>> = {};
    for (let i = 0; i < input.n; i++)
      items[`i${i}`] = job.step(`item-${i}`, { dependsOn: { root } }, () => i);
    job.step('sum', { dependsOn: items, streamUpstream: true }, async (outputs) => {
      let total = 0;
      for await (const [, value] of outputs) total += value;
      return { n: input.n, sum: total };
    });
  },
);

/**
 * The fanout example's shape with the width known only at run time: `plan` returns the
 * list 0..n-1, map `square` returns each item's square, `sum` adds them up as they stream in.
 */
export const mapFanout = defineJob(
  'bench-map',
  { input: z.object({ n: z.number().int().min(0).max(100_000) }) },
  (job) => {
    const plan = job.step('plan', (_, { input }) => Array.from({ length: input.n }, (_, i) => i));
    const square = job.map('square', { over: plan }, (i) => i ** 2);
    job.step('sum', { dependsOn: { square }, streamUpstream: true }, async (outputs) => {
      let total = 0;
      for await (const [, value] of outputs) total += value;
      return { sum: total };
    });
  },
);

/**
 * `n` independent no-op steps (a backlog), or with `chain` one after another: each run its own
 * tenant on the step queues (the default fairness key). The fairness bench (bench/fairness.ts).
 */
export const tenantSteps = defineJob(
  'bench-tenant-steps',
  { input: z.object({ n: z.number().int().min(1), chain: z.boolean().default(false) }) },
  (job, input) => {
    let previous: StepRef<number> | undefined;
    for (let i = 0; i < input.n; i++) {
      const dependsOn: Record<string, StepRef<number>> = input.chain && previous ? { previous } : {};
      previous = job.step(`s-${i}`, { dependsOn }, () => i);
    }
  },
);
