/**
 * `npm run bench:ecs [-- --runs 10]`
 *
 * Time from dispatch to step start of an ECS step on the embedded stack, beside a Lambda
 * step of the same runs: `long` (prepare on Lambda -> crunch on ECS -> report on Lambda),
 * measured from each step's `queuedAt` (its dependency released it and its message was
 * sent) to its `startedAt` (the claim by its worker: the in-process Lambda handler, or
 * ecs/main.ts in a child process started by the local RunTask). Writes
 * bench/results/ecs-start.json. Locally a task is a Node process, not a Fargate task:
 * on AWS add Fargate's own provisioning (tens of seconds).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { long } from '../examples/index.ts';
import { LambdagClient } from '../lib/client/lambdagClient.ts';
import { JobRegistry } from '../lib/job/registry.ts';
import type { StepRecord } from '../lib/store/types.ts';
import { startLocalStack } from '../local/stack.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`--runs must be a whole number >= 1, got '${values.runs}'`);
const RESULTS = join(import.meta.dirname, 'results');

const registry = new JobRegistry([long]);
const stack = await startLocalStack({ registry, logLevel: 'ERROR' });
try {
  const deps = stack.operatorDeps(registry, new Logger({ serviceName: 'bench', logLevel: 'ERROR' }));
  const client = LambdagClient.fromDeps(deps, stack.stateMachineArn);
  const startMs = (step: StepRecord | undefined) => {
    if (!step?.queuedAt || !step.startedAt) throw new Error(`step ${step?.key} has no queuedAt/startedAt`);
    return Date.parse(step.startedAt) - Date.parse(step.queuedAt);
  };
  const ecs: number[] = [];
  const lambda: number[] = [];
  // One run first to warm the module cache (tsx's transform cache, the SDK's imports).
  for (let i = 0; i <= runs; i++) {
    const { runId } = await client.startRun({ job: 'long', input: { chunks: 1, chunkMs: 0 } });
    const run = await client.waitForRun(runId, { maxIntervalMs: 100 });
    if (run.status !== 'SUCCEEDED') throw new Error(`run ${runId} ended ${run.status}`);
    const steps = new Map<string, StepRecord>();
    for await (const step of deps.store.listSteps(runId)) steps.set(step.key, step);
    if (i === 0) continue;
    ecs.push(startMs(steps.get('crunch')));
    lambda.push(startMs(steps.get('report')));
  }
  const stats = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return { n: xs.length, minMs: sorted[0] ?? 0, p50Ms: at(0.5), p90Ms: at(0.9), maxMs: sorted.at(-1) ?? 0 };
  };
  const result = {
    case: 'ecs-dispatch-to-start',
    what: "queuedAt -> startedAt of long's ECS step (crunch) and of its Lambda step (report), same runs",
    node: process.version,
    at: new Date().toISOString(),
    ecs: stats(ecs),
    lambda: stats(lambda),
    ecsOverLambdaP50: Number((stats(ecs).p50Ms / Math.max(1, stats(lambda).p50Ms)).toFixed(1)),
    samples: { ecs, lambda },
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'ecs-start.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `${JSON.stringify({ ecs: result.ecs, lambda: result.lambda, ratio: result.ecsOverLambdaP50 })}\n`,
  );
} finally {
  await stack.stop();
}
