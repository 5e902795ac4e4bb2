/**
 * Over 400 lines on purpose: the benchmark driver, its cases and its report in one script.
 *
 * `npm run bench [-- --quick] [-- --cases serial,fanout,diamonds,big-output,fan-in] [-- --sizes 100,1000]`
 * `npm run bench -- --cases keyed-limit`: the overhead of a keyed concurrency limit per step.
 * `npm run bench -- --cases scale [-- --scale-steps 100000] [-- --limit-scale 1]`: one wide fan-out
 * with DynamoDB's partition write limit emulated (AWS's rate divided by --limit-scale); every
 * case run in the same invocation runs under the limit too, so run it alone.
 *
 * Runs lambdag's benchmarks on one embedded local stack and writes
 * bench/results/<case>.json and bench/results/summary.md. Every case is measured next to
 * the floor (bench/floor.ts) in the same process, so figures are reported as ratios to
 * what the emulators themselves allow. Timings belong here, never in tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { diamond, fanout } from '../examples/index.ts';
import { type RequestCounts, RequestMetrics } from '../lib/aws/requestMetrics.ts';
import { LambdagClient } from '../lib/client/lambdagClient.ts';
import type { Deps } from '../lib/deps.ts';
import { JobRegistry } from '../lib/job/registry.ts';
import type { RunRecord } from '../lib/store/types.ts';
import { startLocalStack } from '../local/stack.ts';
import { costPerMillionSteps, DEFAULT_LAMBDA, PRICES, perStep, type RunShare } from './costModel.ts';
import { Floor } from './floor.ts';
import { bigOutput, chain, limitedChain, liveHeap, wide, wideFanIn } from './jobs.ts';
import { currentPolicy, DEPLOYED_WATCH, replayPolls, resetOnProgressPolicy } from './pollModel.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cases: { type: 'string', default: 'serial,fanout,diamonds,big-output,fan-in' },
    /** Fan-out widths, comma-separated (default 10,100,1000,10000; quick 10,100). */
    sizes: { type: 'string' },
    /** The local Wait between PollRun ticks (ms); default 1000, the shortest PollRun asks for on AWS. */
    'poll-ms': { type: 'string', default: '1000' },
    /** Measured rounds per case (default 5; quick 1). */
    rounds: { type: 'string' },
    /** The scale case's fan-out width (default 99,998: a run of 100,000 steps; quick 10,000). */
    'scale-steps': { type: 'string' },
    /** The scale case's limits: AWS's partition write rate divided by this (default 1, AWS's own). */
    'limit-scale': { type: 'string', default: '1' },
  },
});
const quick = values.quick ?? false;
const cases = new Set((values.cases ?? '').split(',').filter(Boolean));
const RESULTS = join(import.meta.dirname, 'results');

/** The local stage's event source: batches of 10, 8 concurrent invocations (serverless.yml). */
const BATCH_SIZE = 10;
const CONCURRENCY = 8;

const metrics = new RequestMetrics();
const registry = new JobRegistry([chain, limitedChain, fanout, diamond, bigOutput, wideFanIn, wide]);
// The local state machine waits the same time between polls whatever PollRun asks (tests
// use 250 ms). The bench uses PollRun's shortest wait on AWS, 1 s: at 250 ms, 200
// concurrent runs poll 800 times a second in the workers' own process, which on AWS is
// Step Functions' and PollRun's business, not theirs.
const pollIntervalMs = Number(values['poll-ms']);
const limitScale = Number(values['limit-scale']);
const stack = await startLocalStack({
  registry,
  logLevel: 'ERROR',
  requestMetrics: metrics,
  pollIntervalMs,
  ...(cases.has('scale') ? { limits: { scale: limitScale } } : {}),
});
const deps: Deps = stack.operatorDeps(registry, new Logger({ serviceName: 'bench', logLevel: 'ERROR' }));
const client = LambdagClient.fromDeps(deps, stack.stateMachineArn);
const floor = await Floor.create(deps);

/**
 * Run the floor under the request counter's async context, as lambdag's handlers run: the
 * AsyncLocalStorage it uses turns on promise hooks for the whole process, a cost the floor
 * would otherwise not pay in the first case measured.
 */
function asMeasured<T>(fn: () => Promise<T>): Promise<T> {
  return metrics.withScope('floor', fn);
}

/** Peak RSS of this process (stack and workers included) while `fn` runs. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakRssMb: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Start a run and wait for it. `requestedAt` is when the client asked (epoch ms), so a run's
 * latency counts its start too. `maxIntervalMs`: how often the client looks; the figures
 * come from the run's records, so this only sets the bench's own load on the stack.
 */
async function runJob(
  job: string,
  input: unknown,
  maxIntervalMs = 100,
): Promise<{ run: RunRecord; wallMs: number; requestedAt: number }> {
  const started = performance.now();
  const requestedAt = Date.now();
  const { runId } = await client.startRun({ job, input });
  const run = await client.waitForRun(runId, { maxIntervalMs });
  if (run.status !== 'SUCCEEDED') {
    throw new Error(
      `${job} run ${runId} ended ${run.status}: ${JSON.stringify({ error: run.error, failedSteps: run.failedSteps?.slice(0, 5) })}`,
    );
  }
  return { run, wallMs: performance.now() - started, requestedAt };
}

/**
 * The run's transitions on AWS, modelled: its poll loop replayed on its steps' real finish
 * times with each Wait as long as PollRun asks (bench/pollModel.ts), with today's wait
 * policy and with the one before (reset on progress), side by side.
 */
async function awsTransitionsOf(run: RunRecord) {
  const start = Date.parse(run.createdAt);
  const finishes: number[] = [];
  for await (const step of deps.store.listSteps(run.runId)) {
    if (step.finishedAt) finishes.push((Date.parse(step.finishedAt) - start) / 1000);
  }
  const current = replayPolls(finishes, currentPolicy, DEPLOYED_WATCH);
  const unwatched = replayPolls(finishes, currentPolicy);
  const before = replayPolls(finishes, resetOnProgressPolicy);
  return {
    current: current.transitions,
    polls: current.polls,
    watchedSeconds: current.watchedSeconds,
    detectionDelaySeconds: current.detectionDelaySeconds,
    withoutWatch: unwatched.transitions,
    resetOnProgress: before.transitions,
  };
}

/** The run functions other than the step worker, whose cost each step shares. */
const RUN_SCOPES = ['startRun', 'finalizeRun'] as const;

/**
 * A step's share of its runs' own cost: StartRun's and FinalizeRun's requests as measured,
 * and PollRun's as it would poll on AWS (the modelled polls, one run-item read each, and
 * one more per look while it watches; the requests test asserts that read is all a poll
 * does), over `steps` steps of `runs` runs.
 */
function runShareOf(
  requests: RequestCounts,
  batchWriteItems: number,
  runs: number,
  steps: number,
  aws: { polls: number; current: number; watchedSeconds: number },
): RunShare {
  const requestsPerStep = perStep(requests, RUN_SCOPES, steps);
  const reads = aws.polls + aws.watchedSeconds / DEPLOYED_WATCH.checkSeconds;
  requestsPerStep['DynamoDB.GetItem'] = (requestsPerStep['DynamoDB.GetItem'] ?? 0) + (reads * runs) / steps;
  return {
    requestsPerStep,
    batchWriteItemsPerStep: batchWriteItems / steps,
    invocationsPerStep: ((2 + aws.polls) * runs) / steps,
    transitionsPerStep: (aws.current * runs) / steps,
    pollWatchSecondsPerStep: (aws.watchedSeconds * runs) / steps,
  };
}

/** Items BatchWriteItem wrote for the run functions whose cost steps share. */
const runBatchWriteItems = () => RUN_SCOPES.reduce((sum, scope) => sum + metrics.itemsBatchWritten(scope), 0);

/** Milliseconds between one step's timestamp and another's, as their items record them. */
async function stepsWindowMs(
  runId: string,
  [fromStep, fromField]: [string, 'startedAt' | 'finishedAt'],
  [toStep, toField]: [string, 'startedAt' | 'finishedAt'],
): Promise<number> {
  const [from, to] = await Promise.all([
    deps.store.getStep(runId, fromStep),
    deps.store.getStep(runId, toStep),
  ]);
  const start = Date.parse(from?.[fromField] ?? '');
  const end = Date.parse(to?.[toField] ?? '');
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    throw new Error(`run ${runId}: no ${fromStep}.${fromField} .. ${toStep}.${toField} window`);
  }
  return end - start;
}

/** State transitions of the run's execution(s): what Step Functions standard bills. */
async function transitionsOf(run: RunRecord): Promise<number> {
  if (!run.executionArn) return 0;
  let transitions = 0;
  let nextToken: string | undefined;
  do {
    const page = await deps.aws.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: run.executionArn, nextToken, maxResults: 1000 }),
    );
    transitions += (page.events ?? []).filter((e) => e.type?.endsWith('StateEntered')).length;
    nextToken = page.nextToken;
  } while (nextToken);
  return transitions;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Measured rounds of a case (floor and lambdag alternating); its figures are those of the median round. */
// Five: single rounds on a shared host move by ±15 %, and the chain's and the small
// fan-outs' rounds take seconds.
const ROUNDS = values.rounds ? Number(values.rounds) : quick ? 1 : 5;

function median<T extends { ratio: number }>(rounds: readonly T[]): T {
  const sorted = [...rounds].sort((a, b) => a.ratio - b.ratio);
  const middle = sorted[Math.floor((sorted.length - 1) / 2)];
  if (!middle) throw new Error('no rounds measured');
  return middle;
}
const results: Record<string, unknown> = {};
const summary: string[] = [];
/** Rows of the cost table: $ per million steps by case. */
const costs: string[] = [];

function costRow(name: string, cost: ReturnType<typeof costPerMillionSteps>): void {
  costs.push(
    `| ${name} | $${cost.total.toFixed(2)} | $${cost.steps.toFixed(2)} | $${cost.runShare.toFixed(2)} (of which Step Functions $${cost.stepFunctions.toFixed(2)}) | $${cost.stepFunctionsStandardEquivalent.toFixed(2)} |`,
  );
}

function save(name: string, result: Record<string, unknown>): void {
  results[name] = result;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    join(RESULTS, `${name}.json`),
    `${JSON.stringify({ case: name, at: new Date().toISOString(), quick, pollIntervalMs, ...result }, null, 2)}\n`,
  );
}

try {
  if (cases.has('serial')) {
    const n = quick ? 20 : 100;
    // Warm-up: both the floor's and lambdag's code paths compiled before anything is timed.
    await asMeasured(() => floor.serial(20));
    await runJob('bench-chain', { n: 20 });
    // Rounds alternate floor and chain; the round with the median ratio is reported.
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const floorResult = await asMeasured(() => floor.serial(n));
      metrics.reset();
      const measured = await withPeakRss(() => runJob('bench-chain', { n }));
      // Per step: between the first and the last step's results, as the floor times its steps.
      // The run's own start and end (state machine, StartRun, PollRun seeing the end,
      // FinalizeRun) are a fixed cost per run, reported apart.
      const msPerStep =
        (await stepsWindowMs(measured.value.run.runId, ['c-0', 'finishedAt'], [`c-${n - 1}`, 'finishedAt'])) /
        (n - 1);
      rounds.push({
        floorResult,
        msPerStep,
        ratio: msPerStep / floorResult.msPerStep,
        ...measured,
        requests: metrics.snapshot(),
        workerTotal: round(metrics.total('stepWorker') / n, 2),
        batchWriteItems: metrics.itemsBatchWritten('stepWorker'),
        runItems: runBatchWriteItems(),
      });
    }
    const { floorResult, msPerStep, value, peakRssMb, requests, workerTotal, batchWriteItems, runItems } =
      median(rounds);
    const aws = await awsTransitionsOf(value.run);
    const endToEndMsPerStep = value.run.finishedAt
      ? (Date.parse(value.run.finishedAt) - Date.parse(value.run.createdAt)) / n
      : value.wallMs / n;
    const workerPerStep = perStep(requests, 'stepWorker', n);
    const cost = costPerMillionSteps(
      workerPerStep,
      batchWriteItems / n,
      DEFAULT_LAMBDA,
      runShareOf(requests, runItems, 1, n, aws),
    );
    costRow(`serial chain, ${n} steps`, cost);
    save('serial', {
      steps: n,
      ratiosOfRounds: rounds.map((r) => round(r.ratio, 2)),
      wallMs: round(value.wallMs),
      msPerStep: round(msPerStep, 2),
      floorMsPerStep: round(floorResult.msPerStep, 2),
      ratioToFloor: round(msPerStep / floorResult.msPerStep, 2),
      endToEndMsPerStep: round(endToEndMsPerStep, 2),
      runOverheadMs: round(value.wallMs - (n - 1) * msPerStep),
      peakRssMb,
      transitions: await transitionsOf(value.run),
      awsTransitionsModelled: aws,
      requestsPerStep: { total: workerTotal, byOperation: workerPerStep },
      requestsPerRun: requests,
      batchWriteItemsPerStep: round(batchWriteItems / n, 2),
      costPerMillionSteps: cost,
      prices: PRICES,
    });
    summary.push(
      `| serial chain | ${n} steps | ${round(msPerStep, 1)} ms/step (run end to end ${round(value.wallMs)} ms) | floor ${round(floorResult.msPerStep, 1)} ms/step | **${round(msPerStep / floorResult.msPerStep, 2)}x** | ${peakRssMb} MB |`,
    );
  }

  if (cases.has('scale')) {
    // The fan-out's width; with its root and its sum, the default run has 100,000 steps (MAX_STEPS).
    const n = values['scale-steps'] ? Number(values['scale-steps']) : quick ? 10_000 : 99_998;
    const measured = await withPeakRss(() => runJob('bench-wide', { n }, 1_000));
    const { run, wallMs } = measured.value;
    const windowMs = await stepsWindowMs(run.runId, ['root', 'finishedAt'], ['sum', 'startedAt']);
    const { events } = await client.listEvents(run.runId);
    const failures = events.filter((e) => e.type === 'STEP_FAILURE' || e.type === 'STEP_RETRY').length;
    const throttled = stack.partitionWriteLimits?.throttled() ?? [];
    const throttledWrites = throttled.reduce((sum, t) => sum + t.throttled, 0);
    save('scale', {
      n,
      steps: n + 2,
      limitScale,
      partitionWriteUnitsPerSecond: 1_000 / limitScale,
      wallMs: round(wallMs),
      stepsPerSecond: round(n / (windowMs / 1000)),
      wallStepsPerSecond: round((n + 2) / (wallMs / 1000)),
      peakRssMb: measured.peakRssMb,
      throttledWrites,
      hottest: throttled.slice(0, 5),
      stepFailuresAndRetries: failures,
      result: run.result,
    });
    summary.push(
      `| scale: wide fan-out, partition limit ${round(1_000 / limitScale)} WCU/s | N = ${n} | ${round(n / (windowMs / 1000))} steps/s (run: ${round(wallMs / 1000, 1)} s), ${throttledWrites} writes throttled, ${failures} step failures or retries | - | - | ${measured.peakRssMb} MB |`,
    );
  }

  if (cases.has('fanout')) {
    const sizes = values.sizes
      ? values.sizes.split(',').map(Number)
      : quick
        ? [10, 100]
        : [10, 100, 1_000, 10_000];
    // Warm-up, as for the chain.
    await asMeasured(() => floor.fanout(100, CONCURRENCY, BATCH_SIZE));
    await runJob('fanout', { n: 100 });
    for (const n of sizes) {
      const steps = n + 2;
      // Rounds as for the chain, but one of the widest (it takes a minute) unless --rounds says.
      const rounds = [];
      for (let r = 0; r < (n > 1_000 && !values.rounds ? 1 : ROUNDS); r++) {
        const floorResult = await asMeasured(() => floor.fanout(n, CONCURRENCY, BATCH_SIZE));
        metrics.reset();
        const invocationsBefore = stack.eventSource.stats().invocations;
        const measured = await withPeakRss(() => runJob('fanout', { n }));
        const invocations = stack.eventSource.stats().invocations - invocationsBefore;
        // The N parallel steps: from plan's result (it dispatches them) to sum's start (the
        // last of them released it), as the floor times N steps. The whole run's wall time
        // (start, plan, sum, PollRun seeing the end, FinalizeRun) is reported beside it.
        const windowMs = await stepsWindowMs(
          measured.value.run.runId,
          ['plan', 'finishedAt'],
          ['sum', 'startedAt'],
        );
        const stepsPerSecond = n / (windowMs / 1000);
        rounds.push({
          floorResult,
          stepsPerSecond,
          ratio: stepsPerSecond / floorResult.stepsPerSecond,
          ...measured,
          requests: metrics.snapshot(),
          workerTotal: metrics.total('stepWorker'),
          batchWriteItems: metrics.itemsBatchWritten('stepWorker'),
          runItems: runBatchWriteItems(),
          invocations,
        });
      }
      const {
        floorResult,
        stepsPerSecond,
        value,
        peakRssMb,
        requests,
        workerTotal,
        batchWriteItems,
        runItems,
        invocations,
      } = median(rounds);
      const aws = await awsTransitionsOf(value.run);
      const lambda = { ...DEFAULT_LAMBDA, stepsPerInvocation: steps / invocations };
      const byOperation = perStep(requests, 'stepWorker', steps);
      const wallStepsPerSecond = steps / (value.wallMs / 1000);
      const cost = costPerMillionSteps(
        byOperation,
        batchWriteItems / steps,
        lambda,
        runShareOf(requests, runItems, 1, steps, aws),
      );
      costRow(`fan-out/fan-in, N = ${n}`, cost);
      save(`fanout-${n}`, {
        n,
        steps,
        ratiosOfRounds: rounds.map((r) => round(r.ratio, 2)),
        stepsPerSecondOfRounds: rounds.map((r) => [
          round(r.stepsPerSecond),
          round(r.floorResult.stepsPerSecond),
        ]),
        wallMs: round(value.wallMs),
        wallStepsPerSecond: round(wallStepsPerSecond),
        stepsPerSecond: round(stepsPerSecond),
        floorStepsPerSecond: round(floorResult.stepsPerSecond),
        ratioToFloor: round(stepsPerSecond / floorResult.stepsPerSecond, 2),
        wallRatioToFloor: round(wallStepsPerSecond / floorResult.stepsPerSecond, 2),
        peakRssMb,
        transitions: await transitionsOf(value.run),
        awsTransitionsModelled: aws,
        requestsPerStep: round(workerTotal / steps, 2),
        requestsByOperation: byOperation,
        batchWriteItemsPerStep: round(batchWriteItems / steps, 2),
        stepsPerInvocation: round(steps / invocations, 2),
        costPerMillionSteps: cost,
        result: value.run.result,
      });
      summary.push(
        `| fan-out/fan-in | N = ${n} | ${round(stepsPerSecond)} steps/s (run: ${round(value.wallMs / 1000, 2)} s, ${round(wallStepsPerSecond)} steps/s) | floor ${round(floorResult.stepsPerSecond)} steps/s | **${round(stepsPerSecond / floorResult.stepsPerSecond, 2)}x** | ${peakRssMb} MB |`,
      );
    }
  }

  if (cases.has('diamonds')) {
    const runs = quick ? 20 : 200;
    metrics.reset();
    const invocationsBefore = stack.eventSource.stats().invocations;
    const { value, peakRssMb } = await withPeakRss(async () => {
      const startedAt = Date.now();
      // The clients look every 2 s (the CLI's pace), not every 100 ms: 200 clients polling
      // that often would load the stack more than the runs do.
      const ended = await Promise.all(
        Array.from({ length: runs }, (_, i) => runJob('diamond', { x: i }, 2_000)),
      );
      const lastFinished = Math.max(...ended.map(({ run }) => Date.parse(run.finishedAt as string)));
      return { ended, wallMs: lastFinished - startedAt };
    });
    // A run's latency: from the client's start request to its finish (the run record's).
    const latencies = value.ended
      .map(({ run, requestedAt }) => Date.parse(run.finishedAt as string) - requestedAt)
      .sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    // What a diamond run costs, per step: its 4 steps and its run's share (a small run pays
    // for its state machine and run functions over few steps).
    const steps = runs * 4;
    const invocations = stack.eventSource.stats().invocations - invocationsBefore;
    const requests = metrics.snapshot();
    const modelled = await Promise.all(value.ended.map(({ run }) => awsTransitionsOf(run)));
    const mean = (pick: (m: (typeof modelled)[number]) => number) =>
      modelled.reduce((sum, m) => sum + pick(m), 0) / modelled.length;
    const byOperation = perStep(requests, 'stepWorker', steps);
    const cost = costPerMillionSteps(
      byOperation,
      metrics.itemsBatchWritten('stepWorker') / steps,
      { ...DEFAULT_LAMBDA, stepsPerInvocation: steps / invocations },
      runShareOf(requests, runBatchWriteItems(), runs, steps, {
        polls: mean((m) => m.polls),
        current: mean((m) => m.current),
        watchedSeconds: mean((m) => m.watchedSeconds),
      }),
    );
    costRow(`${runs} concurrent diamond runs`, cost);
    save('diamonds', {
      runs,
      wallMs: round(value.wallMs),
      runsPerSecond: round(runs / (value.wallMs / 1000), 2),
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      peakRssMb,
      requestsPerStep: round(metrics.total('stepWorker') / steps, 2),
      requestsByOperation: byOperation,
      stepsPerInvocation: round(steps / invocations, 2),
      awsTransitionsModelledPerRun: round(
        mean((m) => m.current),
        1,
      ),
      awsTransitionsModelledPerRunWithoutWatch: round(
        mean((m) => m.withoutWatch),
        1,
      ),
      pollWatchSecondsModelledPerRun: round(
        mean((m) => m.watchedSeconds),
        2,
      ),
      costPerMillionSteps: cost,
    });
    summary.push(
      `| concurrent diamonds | ${runs} runs | ${round(runs / (value.wallMs / 1000), 2)} runs/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms | | | ${peakRssMb} MB |`,
    );
  }

  if (cases.has('big-output')) {
    const bytes = 1024 * 1024;
    await asMeasured(() => floor.bigOutput(bytes)); // warm-up
    const floorResult = await asMeasured(() => floor.bigOutput(bytes));
    const { value, peakRssMb } = await withPeakRss(() => runJob('bench-big-output', { bytes }));
    if (value.run.result !== bytes) throw new Error(`big-output measured ${String(value.run.result)} bytes`);
    // From the producer's start to the consumer's result: both steps, the output's trip
    // through S3 (claim check) included; the floor is that trip alone (put and get).
    const handOffMs = await stepsWindowMs(value.run.runId, ['make', 'startedAt'], ['measure', 'finishedAt']);
    save('big-output', {
      bytes,
      handOffMs,
      floorPutGetMs: round(floorResult.ms),
      ratioToFloor: round(handOffMs / floorResult.ms, 2),
      wallMs: round(value.wallMs),
      peakRssMb,
    });
    summary.push(
      `| 1 MB output downstream | 2 steps | ${handOffMs} ms, producer start to consumer result (run: ${round(value.wallMs)} ms) | S3 put + get ${round(floorResult.ms)} ms | **${round(handOffMs / floorResult.ms, 2)}x** | ${peakRssMb} MB |`,
    );
  }

  if (cases.has('keyed-limit')) {
    // The same chain with and without a keyed concurrency limit it never reaches (no step
    // waits): the requests and time a slot costs per step. Rounds alternate the two.
    const n = quick ? 20 : 100;
    await runJob('bench-chain', { n: 20 });
    await runJob('bench-limited-chain', { n: 20 });
    const measure = async (job: string) => {
      metrics.reset();
      const { run } = await runJob(job, { n });
      const windowMs = await stepsWindowMs(run.runId, ['c-0', 'finishedAt'], [`c-${n - 1}`, 'finishedAt']);
      const requests = metrics.snapshot();
      return {
        msPerStep: windowMs / (n - 1),
        requestsPerStep: round(metrics.total('stepWorker') / n, 2),
        byOperation: perStep(requests, 'stepWorker', n),
      };
    };
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const plain = await measure('bench-chain');
      const limited = await measure('bench-limited-chain');
      rounds.push({ plain, limited, ratio: limited.msPerStep / plain.msPerStep });
    }
    const { plain, limited, ratio } = median(rounds);
    save('keyed-limit', {
      steps: n,
      ratiosOfRounds: rounds.map((r) => round(r.ratio, 2)),
      plain: { ...plain, msPerStep: round(plain.msPerStep, 2) },
      limited: { ...limited, msPerStep: round(limited.msPerStep, 2) },
      extraRequestsPerStep: round(limited.requestsPerStep - plain.requestsPerStep, 2),
      stepsPerSecondRatio: round(1 / ratio, 2),
    });
    summary.push(
      `| keyed limit, never reached | chain of ${n} | ${round(limited.msPerStep, 1)} ms/step, ${limited.requestsPerStep} requests/step | no limit: ${round(plain.msPerStep, 1)} ms/step, ${plain.requestsPerStep} requests/step | **${round(ratio, 2)}x** | |`,
    );
  }

  if (cases.has('fan-in')) {
    // What a fan-in step holds while it reads its upstream outputs: the live heap (after a
    // full GC) inside the step, above the live heap once the run is over (the emulators'
    // copies of the outputs are in both), eager and streamed.
    const bytes = 16 * 1024;
    for (const n of quick ? [200, 1_000] : [1_000, 5_000]) {
      const row: Record<string, unknown> = { n, bytesPerOutput: bytes };
      for (const stream of [false, true]) {
        const { run } = await runJob('bench-wide-fan-in', { n, bytes, stream });
        const result = run.result as { total: number; liveHeapBytes: number };
        if (result.total !== n * bytes) throw new Error(`wide fan-in measured ${String(result.total)}`);
        const after = liveHeap();
        row[stream ? 'streamed' : 'eager'] = {
          heldMb: round((result.liveHeapBytes - after) / 1024 / 1024),
          liveHeapInStepMb: round(result.liveHeapBytes / 1024 / 1024),
          liveHeapAfterRunMb: round(after / 1024 / 1024),
        };
      }
      save(`fan-in-${n}`, row);
      const held = (mode: string) => (row[mode] as { heldMb: number }).heldMb;
      summary.push(
        `| fan-in: memory held by the step | ${n} outputs of 16 KB | streamed ${held('streamed')} MB | eager ${held('eager')} MB | | |`,
      );
    }
  }

  const markdown = [
    `# lambdag benchmarks (${new Date().toISOString()}${quick ? ', quick' : ''})`,
    '',
    'Embedded local stack, one process; the floor is the same emulators driven with no lambdag code (bench/floor.ts).',
    '',
    '| case | size | lambdag | floor | ratio | peak RSS |',
    '| ---- | ---- | ------- | ----- | ----- | -------- |',
    ...summary,
    '',
    `Dollars per million steps at AWS list prices (bench/costModel.ts, prices as of ${PRICES.date}, us-east-1, Lambda ${DEFAULT_LAMBDA.architecture} as serverless.yml deploys it): the steps' own requests and invocations, and their share of their run's functions and state machine (transitions modelled for AWS).`,
    '',
    '| case | total | steps | run share | as Step Functions Task states |',
    '| ---- | ----- | ----- | --------- | ----------------------------- |',
    ...costs,
    '',
  ].join('\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'summary.md'), markdown);
  process.stdout.write(`${markdown}\n`);
} finally {
  await floor.dispose();
  await stack.stop();
}
