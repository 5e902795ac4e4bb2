import type { Deps } from '../deps.ts';
import { InvalidInputError, type SerializedError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { RunStatus, StepStatus, TERMINAL_RUN_STATUSES } from '../status.ts';
import { readStepOutput } from '../step/stepOutput.ts';
import { s3Keys } from '../store/keys.ts';
import type { RunError, RunRecord, StepRecord } from '../store/types.ts';
import { loadPlan } from './loadPlan.ts';
import { type PollState, PollStateSchema } from './pollPolicy.ts';
import { giveBackRunSlot } from './runQueue.ts';

/** What the run state machine ends with: small, documented JSON. */
export interface RunOutcome {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  /** The run's result (outputs of its sink steps) when small; always at `resultKey` in S3. */
  readonly result?: unknown;
  readonly resultKey?: string;
  readonly error?: RunError;
  /** Human-readable summary of why the run failed (the Fail state's cause). */
  readonly cause?: string;
  readonly failedSteps?: readonly string[];
  readonly skippedSteps?: readonly string[];
  readonly counts: {
    readonly steps: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly skipped: number;
    /** Steps that ended CANCELED (canceled runs only). */
    readonly canceled?: number;
    /** Steps of a rerun that reused their parent's outputs (included in `succeeded`). */
    readonly reused?: number;
  };
  /** The run this one re-ran. */
  readonly parentRunId?: string;
}

/** A result up to this size is inlined in the run item and the execution output. */
const INLINE_RESULT_BYTES = 32 * 1024;
/** Step lists in the run item and the execution output are capped; the manifest has them all. */
const LISTED_STEPS = 100;

interface ManifestStep {
  key: string;
  status: string;
  attempt: number;
  outputKey?: string;
  /** The output itself, when it was small enough to be kept inline. */
  output?: unknown;
  error?: SerializedError;
  skippedBecause?: string;
  canceledBecause?: string;
  reusedFrom?: string;
  durationMs?: number;
}

/**
 * FinalizeRun: fan in. Reads every step once (paged), writes the run's manifest and
 * result to S3 and its final status to DynamoDB. Idempotent: a finished run returns
 * its recorded outcome. If the counters claimed completion but a step is unfinished,
 * it recounts and reports RUNNING so the state machine goes back to polling. A CANCELING
 * run ends CANCELED once none of its steps is waiting, queued or running.
 */
export async function finalizeRun(deps: Deps, raw: unknown): Promise<RunOutcome | PollState> {
  const parsed = PollStateSchema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidInputError(
      'finalize input is invalid',
      parsed.error.issues.map((i) => i.message),
    );
  const state = parsed.data;
  const run = await deps.store.requireRun(state.runId);
  if (TERMINAL_RUN_STATUSES.has(run.status)) {
    // A retried FinalizeRun whose first try died between the two writes gives the slot back too.
    await giveBackRunSlot(deps, run);
    return outcomeOf(run);
  }

  const canceling = run.status === RunStatus.CANCELING;
  const steps: ManifestStep[] = [];
  const counts = { succeeded: 0, failed: 0, skipped: 0, canceled: 0 };
  let unfinished = 0;
  let itemFailures = 0;
  const failedSteps: string[] = [];
  const skippedSteps: string[] = [];
  const { plan } = await loadPlan(deps, run);
  const sinks = new Set(plan.sinks);
  // Only the sinks' outputs are read (the result); the others stay where they are.
  const sinkSteps = new Map<string, StepRecord>();
  let firstFailure: { key: string; error?: SerializedError } | undefined;
  for await (const step of deps.store.listSteps(run.runId)) {
    steps.push({
      key: step.key,
      status: step.status,
      attempt: step.attempt,
      ...(step.outputKey ? { outputKey: step.outputKey } : {}),
      ...(step.status === StepStatus.SUCCEEDED && 'output' in step ? { output: step.output } : {}),
      ...(step.error && step.status === StepStatus.FAILED ? { error: step.error } : {}),
      ...(step.skippedBecause ? { skippedBecause: step.skippedBecause } : {}),
      ...(step.canceledBecause ? { canceledBecause: step.canceledBecause } : {}),
      ...(step.reusedFrom ? { reusedFrom: step.reusedFrom } : {}),
      ...(step.durationMs === undefined ? {} : { durationMs: step.durationMs }),
    });
    if (step.status === StepStatus.SUCCEEDED) {
      counts.succeeded++;
      if (sinks.has(step.key)) sinkSteps.set(step.key, step);
    } else if (step.status === StepStatus.FAILED && step.item) {
      // A map item's failure fails the run only through its map step's (failed past its
      // tolerance), which is listed instead: a map's items could be 100,000.
      counts.failed++;
      itemFailures++;
    } else if (step.status === StepStatus.FAILED) {
      counts.failed++;
      failedSteps.push(step.key);
      firstFailure ??= { key: step.key, ...(step.error ? { error: step.error } : {}) };
    } else if (step.status === StepStatus.SKIPPED) {
      counts.skipped++;
      skippedSteps.push(step.key);
    } else if (step.status === StepStatus.CANCELED) {
      counts.canceled++;
    } else {
      unfinished++;
    }
  }
  const ended = counts.succeeded + counts.failed + counts.skipped + counts.canceled;
  // Step items a canceled StartRun never wrote can never run.
  if (canceling) counts.canceled += Math.max(0, run.stepCount - ended - unfinished);

  if (canceling ? unfinished > 0 : ended < run.stepCount) {
    // Back to polling: PollRun recounts, or (canceling) sweeps the steps left.
    if (!canceling) await deps.store.setRunCounts(run.runId, counts);
    return backToPolling(state, ended);
  }

  // A run lambdag stopped itself (timeout, fail-fast) winds down like a canceled one but fails.
  const status = canceling
    ? run.abortError
      ? RunStatus.FAILED
      : RunStatus.CANCELED
    : counts.failed - itemFailures > 0
      ? RunStatus.FAILED
      : RunStatus.SUCCEEDED;
  let result: unknown;
  if (status === RunStatus.SUCCEEDED) {
    const sinkOutputs = await Promise.all(
      plan.sinks.map(
        async (key) => [key, await readStepOutput(deps.payloads, sinkSteps.get(key) as StepRecord)] as const,
      ),
    );
    result = plan.sinks.length === 1 ? sinkOutputs[0]?.[1] : Object.fromEntries(sinkOutputs);
  }
  const error: RunError | undefined =
    run.abortError ??
    run.error ??
    (firstFailure
      ? {
          step: firstFailure.key,
          name: firstFailure.error?.name ?? 'Error',
          message: firstFailure.error?.message ?? '',
          ...(firstFailure.error?.code ? { code: firstFailure.error.code } : {}),
        }
      : undefined);
  const finishedAt = new Date().toISOString();
  const resultKey = s3Keys.runResult(run.runId);
  await deps.payloads.putJson(resultKey, {
    runId: run.runId,
    job: run.job,
    status,
    createdAt: run.createdAt,
    finishedAt,
    counts: { steps: run.stepCount, ...counts, ...(run.reused ? { reused: run.reused } : {}) },
    ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}),
    ...(error ? { error } : {}),
    ...(result === undefined ? {} : { result }),
    steps,
  });

  const inlineResult =
    result !== undefined && Buffer.byteLength(JSON.stringify(result)) <= INLINE_RESULT_BYTES;
  const from = canceling ? [RunStatus.CANCELING] : [RunStatus.RUNNING, RunStatus.STARTING];
  const moved = await deps.store.setRunStatus(run.runId, from, status, {
    // A canceled run's counters were not kept for its canceled steps: write the recount.
    ...(canceling ? counts : {}),
    finishedAt,
    resultKey,
    ...(inlineResult ? { result } : {}),
    ...(error ? { error } : {}),
    ...(failedSteps.length ? { failedSteps: failedSteps.slice(0, LISTED_STEPS) } : {}),
    ...(skippedSteps.length ? { skippedSteps: skippedSteps.slice(0, LISTED_STEPS) } : {}),
  });
  // A cancel request landed between the read above and this write: poll again, which cancels.
  if (!moved.ok && moved.current?.status === RunStatus.CANCELING) return backToPolling(state, ended);
  const final = moved.ok ? moved.item : (moved.current ?? run);
  if (moved.ok) {
    await deps.store.appendEvent(
      {
        runId: run.runId,
        type:
          status === RunStatus.SUCCEEDED
            ? EventType.RUN_SUCCESS
            : status === RunStatus.CANCELED
              ? EventType.RUN_CANCELED
              : EventType.RUN_FAILURE,
        message:
          status === RunStatus.SUCCEEDED
            ? `run succeeded: ${counts.succeeded} step(s)`
            : status === RunStatus.CANCELED
              ? describeCancel(final)
              : `run failed: ${describeFailure(error, counts.failed, counts.skipped)}`,
        data: { counts },
      },
      run.expiresAt,
    );
  }
  // Once the run has ended and said so, never before: the queued run this lets start begins
  // after this run's last event.
  if (TERMINAL_RUN_STATUSES.has(final.status)) await giveBackRunSlot(deps, final);
  return outcomeOf(final);
}

/** FinalizeRun's answer when the run is not done: RUNNING sends the state machine back to Wait/PollRun. */
function backToPolling(state: PollState, progress: number): PollState {
  return { ...state, status: RunStatus.RUNNING, progress };
}

export function outcomeOf(run: RunRecord): RunOutcome {
  return {
    runId: run.runId,
    job: run.job,
    status: run.status,
    ...(run.result === undefined ? {} : { result: run.result }),
    ...(run.resultKey ? { resultKey: run.resultKey } : {}),
    ...(run.error ? { error: run.error } : {}),
    ...(run.status === RunStatus.FAILED
      ? { cause: describeFailure(run.error, run.failed, run.skipped) }
      : {}),
    ...(run.status === RunStatus.CANCELED ? { cause: describeCancel(run) } : {}),
    ...(run.failedSteps ? { failedSteps: run.failedSteps } : {}),
    ...(run.skippedSteps ? { skippedSteps: run.skippedSteps } : {}),
    counts: runCounts(run),
    ...(run.parentRunId ? { parentRunId: run.parentRunId } : {}),
  };
}

function describeCancel(run: RunRecord): string {
  const reason = run.cancelReason ? ` (${run.cancelReason})` : '';
  return `run canceled${reason}: ${run.canceled ?? 0} step(s) canceled, ${run.succeeded} succeeded, ${run.failed} failed, ${run.skipped} skipped`;
}

function describeFailure(error: RunError | undefined, failed: number, skipped: number): string {
  const first = error
    ? `step '${error.step ?? '?'}' failed with ${error.name}: ${error.message}`
    : 'a step failed';
  return `${first} (${failed} failed, ${skipped} skipped)`;
}

/** A run's step counts as its outcome reports them (the execution's output, `lambdag run --json`). */
export function runCounts(run: RunRecord) {
  return {
    steps: run.stepCount,
    succeeded: run.succeeded,
    failed: run.failed,
    skipped: run.skipped,
    ...(run.canceled === undefined ? {} : { canceled: run.canceled }),
    ...(run.reused ? { reused: run.reused } : {}),
  };
}
