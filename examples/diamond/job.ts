import { z } from 'zod';
import { defineJob } from '../../lib/job/defineJob.ts';

/** A -> (B, C) -> D, passing real values: d = 2(x+1) + 3(x+1). */
export const diamond = defineJob(
  'diamond',
  {
    input: z.object({ x: z.number() }),
    description: 'A -> B, C -> D, passing values.',
    schedules: [
      // Runs by itself under `lambdag local up`: a minute after the stack starts, then every minute.
      { name: 'every-minute', expression: 'rate(1 minute)', input: { x: 1 }, stages: ['local'] },
      // Deployed to every stage, disabled: the shape of a nightly schedule; enable it to try.
      { name: 'nightly', expression: 'cron(0 3 * * ? *)', input: { x: 100 }, enabled: false },
    ],
  },
  (job) => {
    const a = job.step('a', (_, { input }) => input.x + 1);
    const b = job.step('b', { dependsOn: { a } }, ({ a }) => a * 2);
    const c = job.step('c', { dependsOn: { a } }, ({ a }) => a * 3);
    job.step('d', { dependsOn: { b, c } }, ({ b, c }) => ({ b, c, sum: b + c }));
  },
);
