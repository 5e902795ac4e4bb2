/**
 * `npm run bench:map [-- --n 10000] [-- --rounds 1]`
 *
 * A map step of N items beside the static fan-out of N steps (the fanout example) on one
 * embedded stack: steps per second over the N parallel steps (from the step that lists or
 * plans them finishing to the collector starting; the map's includes its expansion), the
 * map's to the static one's ratio, the step worker's requests per item, and the
 * expansion's own time. Writes bench/results/map.json. Timings belong here, never in tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { fanout } from '../examples/index.ts';
import { RequestMetrics } from '../lib/aws/requestMetrics.ts';
import { LambdagClient } from '../lib/client/lambdagClient.ts';
import { JobRegistry } from '../lib/job/registry.ts';
import { startLocalStack } from '../local/stack.ts';
import { perStep } from './costModel.ts';
import { mapFanout } from './jobs.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '1' } },
});
const n = Number(values.n);
const rounds = Number(values.rounds);
const RESULTS = join(import.meta.dirname, 'results');

const metrics = new RequestMetrics();
const registry = new JobRegistry([fanout, mapFanout]);
const stack = await startLocalStack({
  registry,
  logLevel: 'ERROR',
  requestMetrics: metrics,
  pollIntervalMs: 1000,
});
// The stack writes no process.env: its operator deps reach it (with its admin key).
const deps = stack.operatorDeps(registry, new Logger({ serviceName: 'bench', logLevel: 'ERROR' }));
const client = LambdagClient.fromDeps(deps, stack.stateMachineArn);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One run of `job`: its N parallel steps' rate, and the step worker's requests per item. */
async function measure(job: string, collector: string) {
  metrics.reset();
  const { runId } = await client.startRun({ job, input: { n } });
  const run = await client.waitForRun(runId, { maxIntervalMs: 500 });
  if (run.status !== 'SUCCEEDED') throw new Error(`${job} run ${runId} ended ${run.status}`);
  const [plan, sum, map] = await Promise.all([
    deps.store.getStep(runId, 'plan'),
    deps.store.getStep(runId, collector),
    deps.store.getStep(runId, 'square'),
  ]);
  const windowMs = Date.parse(sum?.startedAt ?? '') - Date.parse(plan?.finishedAt ?? '');
  const requests = metrics.snapshot();
  return {
    runId,
    windowMs,
    stepsPerSecond: round(n / (windowMs / 1000), 1),
    wallMs: Date.parse(run.finishedAt ?? '') - Date.parse(run.createdAt),
    requestsPerItem: round(metrics.total('stepWorker') / n, 3),
    byOperation: perStep(requests, 'stepWorker', n),
    batchWriteItemsPerItem: round(metrics.itemsBatchWritten('stepWorker') / n, 3),
    ...(map?.map?.expandedAt && map.startedAt
      ? { expansionMs: Date.parse(map.map.expandedAt) - Date.parse(map.startedAt) }
      : {}),
  };
}

try {
  // Warm-up: both code paths compiled before anything is timed.
  await client.waitForRun((await client.startRun({ job: 'fanout', input: { n: 100 } })).runId);
  await client.waitForRun((await client.startRun({ job: 'bench-map', input: { n: 100 } })).runId);
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const staticFanout = await measure('fanout', 'sum');
    const map = await measure('bench-map', 'sum');
    results.push({ staticFanout, map, ratio: round(map.stepsPerSecond / staticFanout.stepsPerSecond) });
  }
  const result = { case: 'map', at: new Date().toISOString(), n, rounds: results };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'map.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stack.stop();
}
