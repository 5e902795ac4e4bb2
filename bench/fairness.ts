/**
 * `npm run bench:fairness [-- --big 2000] [-- --small 10] [-- --chain 5]`
 *
 * Fair queues against a noisy neighbour: one run of `big` independent steps, then, once its
 * steps are all queued, `small` runs of a `chain`-step chain. Measured twice on fresh embedded
 * stacks, with the fair queues model (local/fairQueues.ts) and without it (arrival order): the
 * small runs' latency (from their start to their last step's end) and the big run's duration.
 * Writes bench/results/fairness.json. Timings belong here, never in tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { LambdagClient } from '../lib/client/lambdagClient.ts';
import { JobRegistry } from '../lib/job/registry.ts';
import { startLocalStack } from '../local/stack.ts';
import { tenantSteps } from './jobs.ts';

const { values } = parseArgs({
  options: {
    big: { type: 'string', default: '2000' },
    small: { type: 'string', default: '10' },
    chain: { type: 'string', default: '5' },
  },
});
const big = Number(values.big);
const smallRuns = Number(values.small);
const chain = Number(values.chain);
const RESULTS = join(import.meta.dirname, 'results');
const registry = new JobRegistry([tenantSteps]);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

interface Measure {
  readonly fairQueues: boolean;
  /** Seconds from the big run's start to its last step's end. */
  readonly bigSeconds: number;
  /** Each small run's seconds from its start to its last step's end, sorted. */
  readonly smallSeconds: readonly number[];
  readonly smallP50: number;
  readonly smallMax: number;
  /** Small runs whose last step ended after the big run's. */
  readonly smallAfterBig: number;
}

async function measure(fairQueues: boolean): Promise<Measure> {
  const stack = await startLocalStack({ registry, logLevel: 'ERROR', fairQueues });
  try {
    const deps = stack.operatorDeps(registry, new Logger({ serviceName: 'bench', logLevel: 'ERROR' }));
    const client = LambdagClient.fromDeps(deps, stack.stateMachineArn);
    /** Epoch ms of a run's last step end, once it has ended. */
    const lastEnd = async (runId: string) => {
      await client.waitForRun(runId);
      let last = 0;
      for await (const step of deps.store.listSteps(runId))
        last = Math.max(last, Date.parse(step.finishedAt ?? ''));
      return last;
    };
    const bigStart = Date.now();
    const bigRun = await client.startRun({ job: tenantSteps.name, input: { n: big } });
    while ((await client.getRun(bigRun.runId).catch(() => undefined))?.status !== 'RUNNING')
      await new Promise((resolve) => setTimeout(resolve, 50));
    const small = await Promise.all(
      Array.from({ length: smallRuns }, async () => {
        const started = Date.now();
        const { runId } = await client.startRun({ job: tenantSteps.name, input: { n: chain, chain: true } });
        return { runId, started };
      }),
    );
    const ends = await Promise.all(
      small.map(async ({ runId, started }) => ({ started, end: await lastEnd(runId) })),
    );
    const bigEnd = await lastEnd(bigRun.runId);
    const smallSeconds = ends.map(({ started, end }) => round((end - started) / 1000)).sort((a, b) => a - b);
    return {
      fairQueues,
      bigSeconds: round((bigEnd - bigStart) / 1000),
      smallSeconds,
      smallP50: percentile(smallSeconds, 0.5),
      smallMax: smallSeconds.at(-1) ?? Number.NaN,
      smallAfterBig: ends.filter(({ end }) => end > bigEnd).length,
    };
  } finally {
    await stack.stop();
  }
}

const fair = await measure(true);
const arrivalOrder = await measure(false);
const result = {
  big,
  smallRuns,
  chain,
  fair,
  arrivalOrder,
  /** How many times longer the small runs take without fair queues (median). */
  smallP50Ratio: round(arrivalOrder.smallP50 / fair.smallP50),
  measuredAt: new Date().toISOString(),
};
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'fairness.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
