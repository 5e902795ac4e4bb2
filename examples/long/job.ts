import { z } from 'zod';
import { defineJob, Runtime } from '../../lib/job/defineJob.ts';

/**
 * prepare (Lambda) -> crunch (ECS) -> report (Lambda). `crunch` stands for a step past
 * Lambda's limits: it runs in an ECS task, works through `chunks` chunks of `chunkMs`
 * each, reports its progress (STEP_PROGRESS events, shown by `lambdag run long --wait`), and stops cleanly if its signal is aborted (StopTask, cancel).
 */
export const long = defineJob(
  'long',
  {
    input: z.object({
      chunks: z.number().int().min(1).max(10_000).default(5),
      chunkMs: z.number().int().min(0).max(600_000).default(200),
    }),
    description: 'A Lambda step, an ECS step with progress, a Lambda step.',
  },
  (job) => {
    const prepare = job.step('prepare', (_, { input }) => ({ chunks: input.chunks }));
    const crunch = job.step(
      'crunch',
      { dependsOn: { prepare }, runtime: Runtime.ECS, cpu: 1024, memoryMb: 4096, retries: 2 },
      async ({ prepare }, ctx) => {
        let total = 0;
        for (let chunk = 1; chunk <= prepare.chunks; chunk++) {
          ctx.signal.throwIfAborted();
          await new Promise((resolve) => setTimeout(resolve, ctx.input.chunkMs));
          total += chunk;
          ctx.progress(`chunk ${chunk} of ${prepare.chunks}`, {
            chunk,
            of: prepare.chunks,
            pid: process.pid,
          });
        }
        return { total, pid: process.pid };
      },
    );
    job.step('report', { dependsOn: { crunch } }, ({ crunch }) => ({
      total: crunch.total,
      ranIn: crunch.pid,
    }));
  },
);
