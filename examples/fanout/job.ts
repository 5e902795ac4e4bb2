import { z } from 'zod';
import { defineJob, type StepRef } from '../../lib/job/defineJob.ts';

/**
 * 1 -> N -> 1. `plan` decides N from the input; N `square-i` steps each return i^2
 * (taking the offset from `plan`'s output); `sum` adds them all up as they stream in.
 */
export const fanout = defineJob(
  'fanout',
  {
    input: z.object({ n: z.number().int().min(1).max(10_000).default(100) }),
    description: '1 -> N -> 1; sum of squares 0..N-1.',
  },
  (job, input) => {
    const plan = job.step('plan', (_, { input }) => ({ n: input.n, offset: 0 }));
    const squares: Record<string, StepRef<number>> = {};
    for (let i = 0; i < input.n; i++) {
      squares[`s${i}`] = job.step(
        `square-${i}`,
        { dependsOn: { plan } },
        ({ plan }) => (i + plan.offset) ** 2,
      );
    }
    // Streamed: the outputs of up to 10,000 squares arrive a page at a time.
    job.step('sum', { dependsOn: squares, streamUpstream: true }, async (outputs) => {
      let total = 0;
      for await (const [, value] of outputs) total += value;
      return { n: input.n, sum: total };
    });
  },
);

/** The expected fan-in result: sum of i^2 for i in [0, n). */
export const expectedSum = (n: number) => ((n - 1) * n * (2 * n - 1)) / 6;
