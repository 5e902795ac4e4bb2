import { z } from 'zod';
import { defineJob, type StepRef } from '../lib/job.ts';

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

/** One step returning `bytes` of output that the next step reads and measures. */
export const bigOutput = defineJob(
  'bench-big-output',
  { input: z.object({ bytes: z.number().int().min(1) }) },
  (job) => {
    const make = job.step('make', (_, { input }) => 'x'.repeat(input.bytes));
    job.step('measure', { dependsOn: { make } }, ({ make }) => make.length);
  },
);
