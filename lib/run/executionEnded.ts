import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { stopRunTasks } from '../ecs/supervisor.ts';
import { ErrorCode } from '../errors.ts';
import { RunStatus, TERMINAL_RUN_STATUSES } from '../status.ts';
import type { RunError, RunRecord } from '../store/types.ts';
import { abortRun, type CancelLimits, sweepCanceledRun } from './cancel.ts';
import { ContinueRunRequestSchema } from './continueAsNew.ts';
import { finalizeRun, outcomeOf, type RunOutcome } from './finalize.ts';
import { runIdForClientToken } from './ids.ts';
import { parseRequest } from './parseRequest.ts';

/**
 * A run's execution can end without FinalizeRun: someone stops it (StopExecution from the
 * console or the AWS CLI), it passes a TimeoutSeconds, or a task fails past its retries
 * (PollRun has no Catch). Nothing polls the run any more, so it would stay RUNNING with its
 * ECS tasks going. An EventBridge rule (serverless.yml RunExecutionEndedRule) sends those
 * executions' "Step Functions Execution Status Change" events to the executionEnded
 * function, which winds the run down as a cancel does (steps not started never start,
 * running ones are aborted, ECS tasks stopped), then finishes it itself: FAILED with a code
 * naming the execution's status, or CANCELED when a cancel had been asked for already.
 */

/** The event, as Step Functions sends it (detail: what DescribeExecution says). */
export const ExecutionStatusChangeSchema = z.object({
  source: z.literal('aws.states'),
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().optional(),
    status: z.string(),
    /** The execution's input, unless too large for the event (`inputDetails.included` false). */
    input: z.string().nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});
export type ExecutionStatusChange = z.infer<typeof ExecutionStatusChangeSchema>;

/** How each execution ending is recorded on the run. */
const ENDINGS: Readonly<Record<string, { code: ErrorCode; name: string; what: string }>> = {
  ABORTED: { code: ErrorCode.EXECUTION_ABORTED, name: 'ExecutionAbortedError', what: 'was stopped' },
  TIMED_OUT: { code: ErrorCode.EXECUTION_TIMED_OUT, name: 'ExecutionTimedOutError', what: 'timed out' },
  FAILED: { code: ErrorCode.EXECUTION_FAILED, name: 'ExecutionFailedError', what: 'failed' },
};

/** FinalizeRun's Fail states (run.asl.json): the execution ended the run itself, which is final. */
const FINALIZED_ERRORS = new Set(['lambdag.RunFailed', 'lambdag.RunCanceled']);

/** Cause text kept in the run's error (the event's cause can be a whole Lambda error). */
const MAX_CAUSE = 500;

export interface ExecutionEndOptions extends CancelLimits {
  /** Between looks at a winding-down run (its workers and tasks record their steps CANCELED). */
  readonly checkMs: number;
  /** How long a run named by a stopped execution may take to appear: StartRun's timeout. */
  readonly startWaitMs: number;
  /** Epoch ms by which to be done: past it, steps still running are marked CANCELED at once. */
  readonly deadline?: number;
}

export type ExecutionEndResult =
  | { readonly action: 'ignored'; readonly reason: string; readonly runId?: string }
  | { readonly action: 'ended'; readonly runId: string; readonly outcome: RunOutcome };

/**
 * Handle one execution status change. Idempotent (EventBridge delivers at least once): a
 * run already finished, or whose current execution is another one (continue-as-new hands
 * runs on), is left alone, and every write is the same conditional transition a cancel
 * and FinalizeRun make.
 */
export async function endRunOfEndedExecution(
  deps: Deps,
  raw: unknown,
  options: ExecutionEndOptions,
): Promise<ExecutionEndResult> {
  const { detail } = parseRequest(
    ExecutionStatusChangeSchema,
    raw,
    'execution status change event',
    '(event)',
  );
  const ignore = (reason: string, runId?: string): ExecutionEndResult => {
    deps.log.info('execution end ignored', { executionArn: detail.executionArn, reason, runId });
    return { action: 'ignored', reason, ...(runId ? { runId } : {}) };
  };
  const ending = ENDINGS[detail.status];
  if (!ending) return ignore(`status ${detail.status} does not end a run`);
  if (detail.error && FINALIZED_ERRORS.has(detail.error)) return ignore('the run ended through FinalizeRun');

  const runId = await runIdOf(deps, detail);
  if (!runId) return ignore('no run was started by this execution');
  // Stopped (or timed out) during StartRun: its invocation goes on and may yet write the run,
  // or (a continuation) link the run to this execution, away from the one that handed it over.
  const startMayRun = detail.status !== 'FAILED';
  const handedOverBy = startMayRun ? predecessorOf(detail.input) : undefined;
  const run = startMayRun
    ? await runOnceStarted(
        deps,
        runId,
        options,
        (found) => handedOverBy === undefined || found.executionArn !== handedOverBy,
      )
    : await deps.store.getRun(runId);
  if (!run) return ignore('the run does not exist', runId);
  if (TERMINAL_RUN_STATUSES.has(run.status)) return ignore(`the run already finished ${run.status}`, runId);
  // Still linked to the execution that handed it to this one, past StartRun's timeout: this
  // execution's StartRun never took it over, and the one before has ended (RunHandedOver).
  const current =
    run.executionArn === detail.executionArn ||
    (handedOverBy !== undefined && run.executionArn === handedOverBy);
  if (!current) return ignore(`not the run's current execution (${run.executionArn ?? 'none'})`, runId);

  const error = runErrorOf(detail, ending);
  // A run already canceling (`lambdag cancel`) keeps its cancel: it ends CANCELED.
  await abortRun(deps, runId, error);
  const outcome = await windDown(deps, runId, error.message, options);
  deps.log.warn('run ended after its execution', {
    runId,
    executionStatus: detail.status,
    status: outcome.status,
  });
  return { action: 'ended', runId, outcome };
}

/**
 * The run, waiting while a StartRun may still be writing it (`ready` says when it is done):
 * Step Functions stops an execution at once, but the Lambda invocation of its task runs
 * to its end. Past StartRun's timeout, the run as it is.
 */
async function runOnceStarted(
  deps: Deps,
  runId: string,
  options: ExecutionEndOptions,
  ready: (run: RunRecord) => boolean,
): Promise<RunRecord | undefined> {
  const until = Math.min(Date.now() + options.startWaitMs, options.deadline ?? Number.POSITIVE_INFINITY);
  for (;;) {
    const run = await deps.store.getRun(runId);
    if ((run && ready(run)) || Date.now() + options.checkMs >= until) return run;
    await sleep(options.checkMs);
  }
}

/** A continuation's input names the execution that started it (run.asl.json, ContinueAsNew). */
function predecessorOf(input: string | null | undefined): string | undefined {
  const parsed = ContinuationInputSchema.safeParse(parseJson(input));
  return parsed.success ? parsed.data.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID : undefined;
}

const ContinuationInputSchema = z.object({
  continueRun: z.unknown(),
  AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: z.string(),
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function runErrorOf(detail: ExecutionStatusChange['detail'], ending: (typeof ENDINGS)[string]): RunError {
  const name = detail.name ?? detail.executionArn.split(':').at(-1) ?? detail.executionArn;
  const cause = detail.cause ? `: ${detail.cause.slice(0, MAX_CAUSE)}` : '';
  return {
    name: ending.name,
    code: ending.code,
    message: `the run's execution '${name}' ${ending.what}${detail.error ? ` with ${detail.error}` : ''}${cause}`,
  };
}

/**
 * Until the run is final: stop its ECS tasks, sweep its steps, and once none is running
 * record it as FinalizeRun does (manifest, final status). Steps still running past the
 * cancel grace period, or at the deadline, are marked CANCELED and a late result ignored.
 */
async function windDown(
  deps: Deps,
  runId: string,
  reason: string,
  options: ExecutionEndOptions,
): Promise<RunOutcome> {
  for (;;) {
    const run = await deps.store.requireRun(runId);
    if (TERMINAL_RUN_STATUSES.has(run.status)) return outcomeOf(run);
    const late = options.deadline !== undefined && Date.now() + options.checkMs >= options.deadline;
    await stopRunTasks(deps, run, reason);
    const sweep = await sweepCanceledRun(deps, run, late ? { cancelGraceSeconds: 0 } : options);
    if (sweep.running === 0) {
      const out = await finalizeRun(deps, {
        runId,
        status: RunStatus.CANCELING,
        waitSeconds: 0,
        progress: sweep.finished,
        idleSeconds: 0,
        ticks: 0,
      });
      // RUNNING: a step changed under the sweep; look again.
      if (out.status !== RunStatus.RUNNING) return out as RunOutcome;
    }
    await sleep(options.checkMs);
  }
}

/**
 * The run an execution drives, from its input (a continuation names it; a start may name
 * it, or give the client token it is derived from), else from the history: StartRun's
 * output (a start from the console without a run id).
 */
async function runIdOf(deps: Deps, detail: ExecutionStatusChange['detail']): Promise<string | undefined> {
  const fromInput = runIdFromInput(detail.input);
  if (fromInput) return fromInput;
  return runIdFromHistory(deps, detail.executionArn);
}

const StartInputSchema = z.object({
  runId: z.string().optional(),
  job: z.string().optional(),
  clientToken: z.string().optional(),
});

/** The execution's input as JSON; undefined when absent (too large for the event). */
function parseJson(input: string | null | undefined): unknown {
  // Step Functions only takes JSON input, so a present input parses.
  return input ? JSON.parse(input) : undefined;
}

export function runIdFromInput(input: string | null | undefined): string | undefined {
  const value = parseJson(input);
  if (value === undefined) return undefined;
  const continuation = ContinueRunRequestSchema.safeParse(value);
  if (continuation.success) return continuation.data.continueRun.runId;
  const start = StartInputSchema.safeParse(value);
  if (!start.success) return undefined;
  if (start.data.runId) return start.data.runId;
  if (start.data.job && start.data.clientToken)
    return runIdForClientToken(start.data.job, start.data.clientToken);
  return undefined;
}

/** StartRun's exit is among an execution's first events (retries add a few): read at most this many. */
const HISTORY_EVENTS_READ = 200;

async function runIdFromHistory(deps: Deps, executionArn: string): Promise<string | undefined> {
  let nextToken: string | undefined;
  let read = 0;
  do {
    const page = await deps.aws.sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 100,
        includeExecutionData: true,
        nextToken,
      }),
    );
    for (const event of page.events ?? []) {
      const exited = event.stateExitedEventDetails;
      if (exited?.name !== 'StartRun' || !exited.output) continue;
      const output = z.object({ runId: z.string() }).safeParse(JSON.parse(exited.output));
      return output.success ? output.data.runId : undefined;
    }
    read += page.events?.length ?? 0;
    nextToken = page.nextToken;
  } while (nextToken && read < HISTORY_EVENTS_READ);
  return undefined;
}
