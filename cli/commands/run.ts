import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../../lib/errors.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { runCounts } from '../../lib/run/finalize.ts';
import type { RunEvent, RunRecord } from '../../lib/store/types.ts';
import {
  bold,
  colorStatus,
  dim,
  eventLine,
  progressLine,
  runSummary,
  seconds,
  stepLogText,
  stepsTable,
} from '../format.ts';
import { openTarget, type Target, type TargetOptions } from '../target.ts';

export interface RunOptions extends TargetOptions {
  readonly input?: string;
  readonly inputFile?: string;
  readonly clientToken?: string;
  /** `--priority`, as typed: the client checks it (a whole number from 0 to 9). */
  readonly priority?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
}

/** Show at most this many steps in the final table; bigger runs get the summary only. */
const MAX_LISTED_STEPS = 30;

export async function runCommand(job: string, options: RunOptions): Promise<number> {
  const input = parseInput(options);
  const target = await openTarget(options);
  try {
    const started = Date.now();
    const { runId, alreadyStarted } = await target.client.startRun({
      job,
      input,
      ...(options.clientToken ? { clientToken: options.clientToken } : {}),
      ...(options.priority === undefined ? {} : { priority: Number(options.priority) }),
    });
    if (!options.json) {
      const note = alreadyStarted ? ' (already started with this client token)' : '';
      process.stderr.write(`${bold('▶')} run ${bold(runId)} of ${job} on ${target.description}${note}\n`);
    }
    return await followRun(target, runId, job, options, started);
  } finally {
    await target.close();
  }
}

/**
 * After a run started: print its id (no wait), or wait for it showing progress and print
 * the outcome. Returns the exit code (0 succeeded or not waited for, 1 failed or canceled).
 * Shared by `run` and `rerun`.
 */
export async function followRun(
  target: Target,
  runId: string,
  job: string,
  options: { readonly wait?: boolean; readonly json?: boolean },
  started: number,
): Promise<number> {
  // A one-shot stack dies with this process, so it always waits.
  const wait = options.wait || target.ephemeral;
  if (!wait) {
    if (options.json) print({ runId, job, status: 'RUNNING' });
    else process.stdout.write(`${runId}\n`);
    return 0;
  }
  const live = !options.json && process.stderr.isTTY;
  let lastLine = '';
  // Steps' own progress, retries, promotions and lost tasks, printed above the progress line.
  const watch = options.json
    ? undefined
    : watchEvents(target, runId, (event) => {
        process.stderr.write(`${live ? '\r\u001b[2K' : ''}  ${eventLine(event)}\n${live ? lastLine : ''}`);
      });
  let run: RunRecord;
  try {
    run = await target.client.waitForRun(runId, {
      onProgress: (current) => {
        if (options.json) return;
        const line = progressLine(current, Date.now() - started);
        if (line === lastLine) return;
        lastLine = line;
        process.stderr.write(live ? `\r\u001b[2K${line}` : `${line}\n`);
      },
    });
  } finally {
    await watch?.stop();
  }
  if (live) process.stderr.write('\n');
  const elapsedMs = Date.now() - started;
  if (options.json) {
    print(jsonOutcome(run, elapsedMs));
  } else {
    process.stdout.write(`${colorStatus(run.status)} in ${seconds(elapsedMs)}\n`);
    if (run.stepCount <= MAX_LISTED_STEPS) {
      // In plan (topological) order; then what the steps wrote with ctx.log.
      const { steps } = await target.client.reader.runView(runId);
      process.stdout.write(`${stepsTable(steps)}\n`);
      const { logs } = await target.client.reader.stepLogs(runId);
      for (const doc of logs) process.stdout.write(stepLogText(doc));
    }
    process.stdout.write(`${runSummary(run)}\n`);
    process.stdout.write(dim(`logs: npx lambdag logs ${runId}\n`));
  }
  return run.status === 'SUCCEEDED' ? 0 : 1;
}

/** Events worth showing while a run is waited for. */
const SHOWN_WHILE_WAITING: ReadonlySet<string> = new Set([
  EventType.STEP_PROGRESS,
  EventType.STEP_RETRY,
  EventType.STEP_PROMOTED,
  EventType.STEP_TASK_LOST,
  EventType.STEP_FAILURE,
  EventType.STEP_WAITING_FOR_SLOT,
  EventType.RUN_QUEUED,
]);

/** Follow the run's events (one query a second) and hand the notable ones to `show`. */
function watchEvents(target: Target, runId: string, show: (event: RunEvent) => void) {
  let cursor: string | undefined;
  let stopped = false;
  let warned = false;
  // A failed read only delays what is shown (the next one catches up); said once.
  const onError = (error: unknown) => {
    if (warned) return;
    warned = true;
    process.stderr.write(dim(`  (could not read the run's events: ${(error as Error).message})\n`));
  };
  const poll = async () => {
    const page = await target.client.listEvents(runId, cursor);
    cursor = page.cursor ?? cursor;
    for (const event of page.events) if (SHOWN_WHILE_WAITING.has(event.type)) show(event);
  };
  const loop = (async () => {
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await poll().catch(onError);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await poll().catch(onError);
    },
  };
}

function parseInput(options: RunOptions): unknown {
  const text = options.inputFile ? readFileSync(options.inputFile, 'utf8') : options.input;
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = options.inputFile ? `--input-file ${options.inputFile}` : '--input';
    throw new InvalidInputError(`${where} is not valid JSON (${(error as Error).message})`);
  }
}

export function jsonOutcome(run: RunRecord, elapsedMs?: number) {
  return {
    runId: run.runId,
    job: run.job,
    status: run.status,
    ...(run.result === undefined ? {} : { result: run.result }),
    ...(run.resultKey ? { resultKey: run.resultKey } : {}),
    ...(run.error ? { error: run.error } : {}),
    ...(run.failedSteps ? { failedSteps: run.failedSteps } : {}),
    ...(run.skippedSteps ? { skippedSteps: run.skippedSteps } : {}),
    counts: runCounts(run),
    ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}),
    createdAt: run.createdAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(elapsedMs === undefined ? {} : { elapsedMs }),
  };
}

export function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
