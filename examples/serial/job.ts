import { z } from 'zod';
import { defineJob, type StepRef } from '../../lib/job/defineJob.ts';

export const SERIAL_LENGTH = 20;

/** 20 steps in a chain; each adds 1 to what the previous one returned. */
export const serial = defineJob(
  'serial',
  { input: z.object({ start: z.number().default(0) }), description: 'A chain of 20 steps, each adding 1.' },
  (job) => {
    let previous: StepRef<number> = job.step('step-01', (_, { input }) => input.start + 1);
    for (let i = 2; i <= SERIAL_LENGTH; i++) {
      previous = job.step(
        `step-${String(i).padStart(2, '0')}`,
        { dependsOn: { previous } },
        ({ previous }) => previous + 1,
      );
    }
  },
);
