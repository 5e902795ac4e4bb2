import { z } from 'zod';
import { defineJob, type StepRef } from '../../lib/job/defineJob.ts';

/** A small, seeded PRNG (mulberry32): the same seed gives the same DAG and the same faults. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One body execution of one step attempt, as the audit sees it. */
export interface BodyRun {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly startedAt: number;
  /** It took longer than the visibility timeout on purpose. */
  readonly slow: boolean;
  /** The body returned (a thrown step exception leaves it false). */
  finished: boolean;
}

/** Every body execution in this process; the harness reads and clears it. */
export const bodyRuns: BodyRun[] = [];

export const RandomDagInput = z.object({
  seed: z.number().int(),
  steps: z.number().int().min(1).max(10_000),
  /** Upstream steps per step, at most. */
  maxFanIn: z.number().int().min(1).default(3),
  /** Chance a step attempt throws (a transient error; the step has retries). */
  failRate: z.number().min(0).max(1).default(0),
  /** Chance a step takes `slowMs` (longer than a short visibility timeout). */
  slowRate: z.number().min(0).max(1).default(0),
  slowMs: z.number().int().min(0).default(0),
  retries: z.number().int().min(0).default(4),
});
export type RandomDagInput = z.infer<typeof RandomDagInput>;

class InjectedStepError extends Error {
  override readonly name = 'InjectedStepError';
}

/**
 * A random DAG from a seed: step i depends on up to `maxFanIn` earlier steps,
 * returns the sum of its upstream outputs plus one, and may be slow or throw on
 * a given attempt, decided from (seed, step, attempt) so a re-run of the same
 * attempt behaves the same. The expected result of every step follows from the
 * DAG alone, so the audit can check the values too.
 */
export const randomDag = defineJob('random-dag', { input: RandomDagInput }, (job, input) => {
  const next = rng(input.seed);
  const refs: StepRef<number>[] = [];
  for (let i = 0; i < input.steps; i++) {
    const fanIn = i === 0 ? 0 : 1 + Math.floor(next() * Math.min(input.maxFanIn, i));
    const upstream: Record<string, StepRef<number>> = {};
    for (let k = 0; k < fanIn; k++) {
      const ref = refs[Math.floor(next() * i)] as StepRef<number>;
      upstream[ref.key] = ref;
    }
    const key = `s${i}`;
    refs.push(
      job.step(
        key,
        { dependsOn: upstream, retries: input.retries, backoff: { baseSeconds: 0.2, maxSeconds: 1 } },
        async (values, ctx) => {
          const dice = rng(hash(`${input.seed}/${key}/${ctx.attempt}`));
          const slow = dice() < input.slowRate;
          const run: BodyRun = {
            runId: ctx.runId,
            step: key,
            attempt: ctx.attempt,
            startedAt: Date.now(),
            slow,
            finished: false,
          };
          bodyRuns.push(run);
          if (slow) await new Promise((resolve) => setTimeout(resolve, input.slowMs));
          // Never on the last attempt: the injected errors are transient, so every run can succeed.
          if (ctx.attempt <= input.retries && dice() < input.failRate) {
            throw new InjectedStepError(`injected failure of ${key} attempt ${ctx.attempt}`);
          }
          run.finished = true;
          return Object.values(values as Record<string, number>).reduce((a, b) => a + b, 1);
        },
      ),
    );
  }
});

/** Each step's expected output: 1 + the sum of its upstream outputs. */
export function expectedOutputs(input: RandomDagInput): Map<string, number> {
  const plan = randomDag.plan(randomDag.parseInput(input));
  const values = new Map<string, number>();
  for (const key of plan.order) {
    const upstream = plan.upstream.get(key) ?? [];
    values.set(
      key,
      upstream.reduce((sum, up) => sum + (values.get(up) ?? Number.NaN), 1),
    );
  }
  return values;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
