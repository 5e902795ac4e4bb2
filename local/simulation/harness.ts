/**
 * Over 400 lines on purpose: one fault-injection run from start to audit (random DAGs, the
 * faults, the runs, and the exactly-once audit of their effects), read top to bottom.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DescribeExecutionCommand, GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { LambdagClient } from '../../lib/client/lambdagClient.ts';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import type { Deps } from '../../lib/deps.ts';
import { InvalidMessageError } from '../../lib/errors.ts';
import { JobRegistry } from '../../lib/job/registry.ts';
import { StepStatus, TERMINAL_RUN_STATUSES, TERMINAL_STEP_STATUSES } from '../../lib/status.ts';
import type { StepMessage } from '../../lib/step/messages.ts';
import { decodeStepMessage } from '../../lib/step/messages.ts';
import type { RunEvent, RunRecord } from '../../lib/store/types.ts';
import { startLocalStack } from '../stack.ts';
import {
  AttemptCrashes,
  auditKeyedLimits,
  DEFAULT_KEYED_LIMITS,
  type KeyedLimitsAudit,
} from './keyedLimits.ts';
import { bodyRuns, expectedOutputs, type RandomDagInput, randomDag, rng, sizeOf } from './randomDag.ts';
import { ThrottlingInjector } from './throttling.ts';

/** Chances per occasion; 0 turns a fault off. */
export interface FaultRates {
  /** A step message is sent twice. */
  readonly duplicateSends: number;
  /** The worker dies after storing a step's output, before recording the result. */
  readonly crashBeforeRecord: number;
  /** The worker dies after recording the result, before releasing dependents. */
  readonly crashAfterRecord: number;
  /** The worker dies after its handler returned, before SQS deletes the message. */
  readonly crashBeforeDelete: number;
  /** An AWS call of the worker or the state machine's functions fails as throttled. */
  readonly throttling: number;
  /** A step attempt throws (the step retries). */
  readonly stepErrors: number;
  /** A step takes longer than the queue's visibility timeout. */
  readonly slowSteps: number;
}

export const NO_FAULTS: FaultRates = {
  duplicateSends: 0,
  crashBeforeRecord: 0,
  crashAfterRecord: 0,
  crashBeforeDelete: 0,
  throttling: 0,
  stepErrors: 0,
  slowSteps: 0,
};

export const ALL_FAULTS: FaultRates = {
  duplicateSends: 0.2,
  crashBeforeRecord: 0.05,
  crashAfterRecord: 0.05,
  crashBeforeDelete: 0.1,
  throttling: 0.01,
  stepErrors: 0.1,
  slowSteps: 0.02,
};

export interface SimulationOptions {
  readonly runs: number;
  readonly minSteps: number;
  readonly maxSteps: number;
  readonly seed: number;
  readonly faults: FaultRates;
  /** Runs in flight at once. */
  readonly parallelRuns?: number;
  /** Give up on runs still going after this long. */
  readonly timeoutMs?: number;
  /** The step queues' visibility timeout; slow steps take longer than this. */
  readonly visibilityTimeoutSeconds?: number;
  /** Worker concurrency per queue. */
  readonly concurrency?: number;
  /** Chance a random DAG's step is a map stage (list, map of 0 to `maxItems` items, collect); default 0.1. */
  readonly mapRate?: number;
  readonly maxItems?: number;
  /**
   * Keyed concurrency limits in the DAGs: the chance a plain step has one, of `keys` keys
   * with `limit` slots each (docs/concurrency.md). Default 0.1 of 2 keys of 4; rate 0 turns them off.
   */
  readonly keyedLimits?: { readonly rate: number; readonly keys: number; readonly limit: number };
  readonly onProgress?: (done: number, total: number) => void;
  /** The handlers' log level; SILENT by default, as every fault is expected and the report says what happened. */
  readonly logLevel?: 'WARN' | 'ERROR' | 'SILENT';
}

/** What the audit found. `ok` is true only when nothing was lost, stuck, wrong or run twice after success. */
export interface SimulationReport {
  readonly ok: boolean;
  readonly seed: number;
  readonly runs: number;
  readonly steps: number;
  /** Map stages in the finished runs' DAGs, and their items (counted in `steps`). */
  readonly maps: { stages: number; items: number };
  readonly durationMs: number;
  /** Run latency (created to finished) of the runs that ended, in ms. */
  readonly runLatencyMs: { p50: number; p90: number; max: number };
  /** The slowest run's events, to see where its time went. */
  readonly slowestRun?: { runId: string; latencyMs: number; events: string[] };
  readonly runStatuses: Record<string, number>;
  /** Runs not ended when the harness gave up, with what they were waiting on. */
  readonly stuckRuns: StuckRun[];
  /** Steps of ended runs that are not SUCCEEDED (every injected failure is transient). */
  readonly lostSteps: { runId: string; step: string; status: string }[];
  /**
   * Messages in the step queues' DLQs at the end. `live` ones are for an attempt that
   * never finished (the step waits on them or on reconciliation): the audit fails on
   * those. `stale` ones are extra copies of an attempt that did finish.
   */
  readonly deadLetters: { queue: string; live: string[]; stale: number }[];
  /** Body executions that began after the step's success was recorded: must be none. */
  readonly executionsAfterSuccess: { runId: string; step: string; attempt: number }[];
  /** Steps recorded as succeeded more than once: must be none. */
  readonly doubleRecords: { runId: string; step: string; records: number }[];
  /**
   * Keyed concurrency limits: per key, its limit and the most attempts that ran at once (from
   * the runs' events), the keys over their limit, leases still held at the end, waits.
   */
  readonly keyedLimits: KeyedLimitsAudit;
  /** Runs whose result differs from what their DAG computes. */
  readonly wrongResults: { runId: string; expected: unknown; got: unknown }[];
  readonly faultsInjected: {
    duplicateSends: number;
    crashBeforeRecord: number;
    crashAfterRecord: number;
    crashBeforeDelete: number;
    throttling: Record<string, number>;
    stepErrors: number;
    slowSteps: number;
  };
  /** Body executions, re-executions of an attempt (a crash before recording), and retries (attempts > 1). */
  readonly executions: { bodies: number; reExecutedAttempts: number; retries: number };
  /** Deliveries the worker absorbed without running anything again (duplicates, redeliveries). */
  readonly redeliveries: { received: number; reportedFailures: number };
}

/** Where a stuck run stands: its record, its unfinished steps, its latest execution. */
export interface StuckRun {
  readonly runId: string;
  readonly status: string;
  readonly counts: { succeeded: number; failed: number; skipped: number; steps: number };
  readonly unfinishedSteps: { step: string; status: string; attempt: number; pending: number }[];
  readonly execution?: { status: string; error?: string; cause?: string; lastSteps: string[] };
  /** The run's last events, newest last. */
  readonly lastEvents: string[];
}

class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/**
 * Runs many random DAGs at once on a fresh embedded stack while injecting faults,
 * then audits every step of every run against the exactly-once contract: each
 * step that succeeded was recorded once, no body ran after its step's success was
 * recorded, nothing is lost or stuck, and each run's result is what its DAG computes.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const random = rng(options.seed);
  const chance = (p: number) => p > 0 && random() < p;
  const { faults } = options;
  const limits = options.keyedLimits ?? DEFAULT_KEYED_LIMITS;
  const recordedAt = new Map<string, number>();
  const records = new Map<string, number>();
  const injected = { crashBeforeRecord: 0, crashAfterRecord: 0, crashBeforeDelete: 0 };
  const crashes = new AttemptCrashes();
  const keyOf = (m: Pick<StepMessage, 'runId' | 'step'>) => `${m.runId}/${m.step}`;

  bodyRuns.length = 0;
  const registry = new JobRegistry([randomDag]);
  const stack = await startLocalStack({
    registry,
    logLevel: options.logLevel ?? 'SILENT',
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    faults: {
      duplicateSends: faults.duplicateSends,
      random,
      crashAfterHandler: (_record: SQSRecord) => {
        const crash = chance(faults.crashBeforeDelete);
        if (crash) injected.crashBeforeDelete++;
        return crash;
      },
    },
    hooks: {
      beforeRecord(message) {
        if (chance(faults.crashBeforeRecord)) {
          injected.crashBeforeRecord++;
          crashes.note(message);
          throw new SimulatedCrash(`worker died before recording ${keyOf(message)}`);
        }
      },
      afterRecord(message) {
        const key = keyOf(message);
        if (!recordedAt.has(key)) recordedAt.set(key, Date.now());
        records.set(key, (records.get(key) ?? 0) + 1);
        if (chance(faults.crashAfterRecord)) {
          injected.crashAfterRecord++;
          crashes.note(message);
          throw new SimulatedCrash(`worker died after recording ${key}`);
        }
      },
    },
  });
  const throttling = new ThrottlingInjector(faults.throttling, random);
  if (faults.throttling > 0) throttling.install(stack.deps.aws);

  const started = Date.now();
  try {
    const deps = stack.operatorDeps(
      registry,
      new Logger({ serviceName: 'lambdag-simulate', logLevel: 'ERROR' }),
    );
    const client = LambdagClient.fromDeps(deps, stack.stateMachineArn);
    const inputs: RandomDagInput[] = Array.from({ length: options.runs }, (_, i) => ({
      seed: options.seed * 1_000 + i,
      steps: options.minSteps + Math.floor(random() * (options.maxSteps - options.minSteps + 1)),
      maxFanIn: 3,
      failRate: faults.stepErrors,
      slowRate: faults.slowSteps,
      slowMs: ((options.visibilityTimeoutSeconds ?? 2) + 1) * 1000,
      retries: 4,
      mapRate: options.mapRate ?? 0.1,
      maxItems: options.maxItems ?? 20,
      limitRate: limits.rate,
      limitKeys: limits.keys,
      limit: limits.limit,
    }));

    const deadline = started + (options.timeoutMs ?? 10 * 60_000);
    const finished: RunRecord[] = [];
    const stuckRuns: string[] = [];
    let done = 0;
    const queue = [...inputs];
    const runOne = async () => {
      for (let input = queue.shift(); input; input = queue.shift()) {
        const { runId } = await client.startRun({ job: randomDag.name, input });
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
        try {
          finished.push(await client.waitForRun(runId, { signal: controller.signal, maxIntervalMs: 500 }));
        } catch (error) {
          if (!controller.signal.aborted) throw error;
          stuckRuns.push(runId);
        } finally {
          clearTimeout(timer);
        }
        options.onProgress?.(++done, inputs.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.parallelRuns ?? 10) }, runOne));
    const durationMs = Date.now() - started;
    throttling.disable();

    // ---- the audit ----
    const lostSteps: SimulationReport['lostSteps'] = [];
    const wrongResults: SimulationReport['wrongResults'] = [];
    const runStatuses: Record<string, number> = {};
    let steps = 0;
    const maps = { stages: 0, items: 0 };
    for (const run of finished) {
      runStatuses[run.status] = (runStatuses[run.status] ?? 0) + 1;
      const input = randomDag.parseInput(run.input) as RandomDagInput;
      const expected = expectedOutputs(input);
      const size = sizeOf(input);
      steps += size.steps;
      maps.stages += size.maps;
      maps.items += size.items;
      for await (const step of deps.store.listSteps(run.runId)) {
        if (step.status !== StepStatus.SUCCEEDED)
          lostSteps.push({ runId: run.runId, step: step.key, status: step.status });
      }
      const plan = randomDag.plan(input);
      const want =
        plan.sinks.length === 1
          ? expected.get(plan.sinks[0] as string)
          : Object.fromEntries(plan.sinks.map((k) => [k, expected.get(k)]));
      if (JSON.stringify(run.result) !== JSON.stringify(want)) {
        wrongResults.push({ runId: run.runId, expected: want, got: run.result });
      }
    }
    const deadLetters = await auditDeadLetters(deps);
    // Leases are read once the workers are idle: a late copy of a finished attempt (a
    // duplicate, a redelivery after a crash before the delete) takes a slot for the moment
    // it takes to find its step done, and gives it back. A lease still held then is a leak.
    await stack.eventSource.drain(60_000);
    const keyedLimits = await auditKeyedLimits(deps, finished, limits, crashes);
    const slowest = finished
      .filter((r) => r.finishedAt)
      .map((r) => ({
        runId: r.runId,
        latencyMs: Date.parse(r.finishedAt as string) - Date.parse(r.createdAt),
      }))
      .sort((a, b) => b.latencyMs - a.latencyMs)[0];
    const slowestRun = slowest && {
      ...slowest,
      events: eventLines(await deps.store.listEvents(slowest.runId)),
    };
    const stuck: StuckRun[] = [];
    for (const runId of stuckRuns) {
      const diagnosis = await diagnoseStuckRun(deps, runId);
      if (diagnosis === undefined) continue;
      runStatuses.STUCK = (runStatuses.STUCK ?? 0) + 1;
      stuck.push(diagnosis);
    }

    const executionsAfterSuccess = bodyRuns
      .filter((b) => {
        const at = recordedAt.get(`${b.runId}/${b.step}`);
        return at !== undefined && b.startedAt > at;
      })
      .map(({ runId, step, attempt }) => ({ runId, step, attempt }));
    const doubleRecords = [...records]
      .filter(([, n]) => n > 1)
      .map(([key, n]) => {
        const [runId = '', step = ''] = key.split('/');
        return { runId, step, records: n };
      });
    const attempts = new Map<string, number>();
    for (const b of bodyRuns)
      attempts.set(
        `${b.runId}/${b.step}/${b.attempt}`,
        (attempts.get(`${b.runId}/${b.step}/${b.attempt}`) ?? 0) + 1,
      );
    const stats = stack.eventSource.stats();

    const report: SimulationReport = {
      ok: false,
      seed: options.seed,
      runs: inputs.length,
      steps,
      maps,
      durationMs,
      runLatencyMs: latencies(finished),
      ...(slowestRun ? { slowestRun } : {}),
      runStatuses,
      stuckRuns: stuck,
      lostSteps,
      deadLetters,
      executionsAfterSuccess,
      doubleRecords,
      wrongResults,
      keyedLimits,
      faultsInjected: {
        duplicateSends: stack.faults.duplicated,
        ...injected,
        throttling: { ...throttling.counts },
        stepErrors: bodyRuns.filter((b) => !b.finished).length,
        slowSteps: bodyRuns.filter((b) => b.slow).length,
      },
      executions: {
        bodies: bodyRuns.length,
        reExecutedAttempts: [...attempts.values()].filter((n) => n > 1).length,
        retries: bodyRuns.filter((b) => b.attempt > 1).length,
      },
      redeliveries: { received: stats.received, reportedFailures: stats.reportedFailures },
    };
    return {
      ...report,
      ok:
        report.stuckRuns.length === 0 &&
        lostSteps.length === 0 &&
        deadLetters.every((q) => q.live.length === 0) &&
        executionsAfterSuccess.length === 0 &&
        doubleRecords.length === 0 &&
        wrongResults.length === 0 &&
        keyedLimits.overLimit.length === 0 &&
        keyedLimits.leasesLeft.length === 0 &&
        (runStatuses.SUCCEEDED ?? 0) === inputs.length,
    };
  } finally {
    await stack.stop();
  }
}

/** Undefined when the run did end after all (just past the deadline). */
async function diagnoseStuckRun(deps: Deps, runId: string): Promise<StuckRun | undefined> {
  const run = await deps.store.getRun(runId);
  if (run && TERMINAL_RUN_STATUSES.has(run.status)) return undefined;
  const unfinishedSteps: StuckRun['unfinishedSteps'] = [];
  for await (const step of deps.store.listSteps(runId)) {
    if (!TERMINAL_STEP_STATUSES.has(step.status))
      unfinishedSteps.push({
        step: step.key,
        status: step.status,
        attempt: step.attempt,
        pending: step.pending,
      });
  }
  let execution: StuckRun['execution'];
  if (run?.executionArn) {
    const described = await deps.aws.sfn.send(
      new DescribeExecutionCommand({ executionArn: run.executionArn }),
    );
    const history = await deps.aws.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: run.executionArn, reverseOrder: true, maxResults: 6 }),
    );
    execution = {
      status: described.status ?? 'UNKNOWN',
      lastSteps: (history.events ?? []).map((e) => {
        const detail =
          e.stateEnteredEventDetails?.name ??
          e.taskFailedEventDetails?.error ??
          e.executionFailedEventDetails?.error ??
          e.lambdaFunctionFailedEventDetails?.error ??
          '';
        return `${e.timestamp?.toISOString() ?? ''} ${e.type ?? ''} ${detail}`.trim();
      }),
      ...(described.error ? { error: described.error } : {}),
      ...(described.cause ? { cause: described.cause } : {}),
    };
  }
  const { events } = await deps.store.listEvents(runId);
  const lastEvents = events
    .slice(-8)
    .map(
      (e) => `${e.at} ${e.type}${e.step ? ` ${e.step}#${e.attempt}` : ''}${e.message ? ` ${e.message}` : ''}`,
    );
  return {
    runId,
    lastEvents,
    status: run?.status ?? 'NO RUN RECORD',
    counts: {
      succeeded: run?.succeeded ?? 0,
      failed: run?.failed ?? 0,
      skipped: run?.skipped ?? 0,
      steps: run?.stepCount ?? 0,
    },
    unfinishedSteps,
    ...(execution ? { execution } : {}),
  };
}

function latencies(runs: readonly RunRecord[]): SimulationReport['runLatencyMs'] {
  const ms = runs
    .filter((r) => r.finishedAt)
    .map((r) => Date.parse(r.finishedAt as string) - Date.parse(r.createdAt))
    .sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
  return { p50: at(0.5), p90: at(0.9), max: ms.at(-1) ?? 0 };
}

function eventLines({ events }: { events: readonly RunEvent[] }): string[] {
  return events.map(
    (e) => `${e.at} ${e.type}${e.step ? ` ${e.step}#${e.attempt}` : ''}${e.message ? ` ${e.message}` : ''}`,
  );
}

/** Drain every DLQ (the stack is about to stop) and sort its messages into live and stale. */
async function auditDeadLetters(deps: Deps): Promise<SimulationReport['deadLetters']> {
  const found: SimulationReport['deadLetters'] = [];
  const inspector = new QueueInspector(deps.aws.sqs, deps.config.queues);
  for (const queue of await inspector.stats()) {
    if (!queue.dlq?.visible) continue;
    const live: string[] = [];
    let stale = 0;
    for (;;) {
      const { Messages = [] } = await deps.aws.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.dlq.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 300,
        }),
      );
      if (Messages.length === 0) break;
      for (const letter of Messages) {
        let message: StepMessage;
        try {
          message = await decodeStepMessage(letter.Body ?? '', deps.payloads);
        } catch (error) {
          // The harness sends no poison: one in a DLQ is a finding.
          if (!(error instanceof InvalidMessageError)) throw error;
          live.push(`poison: ${error.message}`);
          continue;
        }
        const step = await deps.store.getStep(message.runId, message.step);
        const finished =
          !step ||
          step.attempt > message.attempt ||
          (step.attempt === message.attempt && TERMINAL_STEP_STATUSES.has(step.status));
        if (finished) stale++;
        else
          live.push(`run ${message.runId} step ${message.step} attempt ${message.attempt} (${step.status})`);
      }
    }
    found.push({ queue: queue.name, live, stale });
  }
  return found;
}
