import { z } from 'zod';
import { defineJob } from '../../lib/job.ts';

/** A -> (B, C) -> D, passing real values: d = 2(x+1) + 3(x+1). */
export const diamond = defineJob(
  'diamond',
  { input: z.object({ x: z.number() }), description: 'A -> B, C -> D, passing values.' },
  (job) => {
    const a = job.step('a', (_, { input }) => input.x + 1);
    const b = job.step('b', { dependsOn: { a } }, ({ a }) => a * 2);
    const c = job.step('c', { dependsOn: { a } }, ({ a }) => a * 3);
    job.step('d', { dependsOn: { b, c } }, ({ b, c }) => ({ b, c, sum: b + c }));
  },
);
