import type { Deps } from './deps.ts';
import { InvalidInputError, type SerializedError } from './errors.ts';
import { loadPlan } from './runInput.ts';
import { type PollState, PollStateSchema } from './runState.ts';
import { EventType, RunStatus, StepStatus, TERMINAL_RUN_STATUSES } from './status.ts';
import { s3Keys } from './store/keys.ts';
import type { RunError, RunRecord } from './store/types.ts';

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
  };
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
  error?: SerializedError;
  skippedBecause?: string;
  durationMs?: number;
}

/**
 * FinalizeRun: fan in. Reads every step once (paged), writes the run's manifest and
 * result to S3 and its final status to DynamoDB. Idempotent: a finished run returns
 * its recorded outcome. If the counters claimed completion but a step is unfinished,
 * it recounts and reports RUNNING so the state machine goes back to polling.
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
  if (TERMINAL_RUN_STATUSES.has(run.status)) return outcomeOf(run);

  const steps: ManifestStep[] = [];
  const counts = { succeeded: 0, failed: 0, skipped: 0 };
  const failedSteps: string[] = [];
  const skippedSteps: string[] = [];
  const outputKeys = new Map<string, string>();
  let firstFailure: { key: string; error?: SerializedError } | undefined;
  for await (const step of deps.store.listSteps(run.runId)) {
    steps.push({
      key: step.key,
      status: step.status,
      attempt: step.attempt,
      ...(step.outputKey ? { outputKey: step.outputKey } : {}),
      ...(step.error && step.status === StepStatus.FAILED ? { error: step.error } : {}),
      ...(step.skippedBecause ? { skippedBecause: step.skippedBecause } : {}),
      ...(step.durationMs === undefined ? {} : { durationMs: step.durationMs }),
    });
    if (step.status === StepStatus.SUCCEEDED) {
      counts.succeeded++;
      if (step.outputKey) outputKeys.set(step.key, step.outputKey);
    } else if (step.status === StepStatus.FAILED) {
      counts.failed++;
      failedSteps.push(step.key);
      firstFailure ??= { key: step.key, ...(step.error ? { error: step.error } : {}) };
    } else if (step.status === StepStatus.SKIPPED) {
      counts.skipped++;
      skippedSteps.push(step.key);
    }
  }

  if (counts.succeeded + counts.failed + counts.skipped < run.stepCount) {
    await deps.store.setRunCounts(run.runId, counts);
    return {
      ...state,
      status: RunStatus.RUNNING,
      progress: counts.succeeded + counts.failed + counts.skipped,
    };
  }

  const status = counts.failed > 0 ? RunStatus.FAILED : RunStatus.SUCCEEDED;
  const { plan } = await loadPlan(deps, run);
  let result: unknown;
  if (status === RunStatus.SUCCEEDED) {
    const sinkOutputs = await Promise.all(
      plan.sinks.map(
        async (key) => [key, await deps.payloads.getJson(outputKeys.get(key) as string)] as const,
      ),
    );
    result = plan.sinks.length === 1 ? sinkOutputs[0]?.[1] : Object.fromEntries(sinkOutputs);
  }
  const error: RunError | undefined =
    run.error ??
    (firstFailure
      ? {
          step: firstFailure.key,
          name: firstFailure.error?.name ?? 'Error',
          message: firstFailure.error?.message ?? '',
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
    counts: { steps: run.stepCount, ...counts },
    ...(error ? { error } : {}),
    ...(result === undefined ? {} : { result }),
    steps,
  });

  const inlineResult =
    result !== undefined && Buffer.byteLength(JSON.stringify(result)) <= INLINE_RESULT_BYTES;
  const moved = await deps.store.setRunStatus(run.runId, [RunStatus.RUNNING, RunStatus.STARTING], status, {
    finishedAt,
    resultKey,
    ...(inlineResult ? { result } : {}),
    ...(error ? { error } : {}),
    ...(failedSteps.length ? { failedSteps: failedSteps.slice(0, LISTED_STEPS) } : {}),
    ...(skippedSteps.length ? { skippedSteps: skippedSteps.slice(0, LISTED_STEPS) } : {}),
  });
  const final = moved.ok ? moved.item : (moved.current ?? run);
  if (moved.ok) {
    await deps.store.appendEvent({
      runId: run.runId,
      type: status === RunStatus.SUCCEEDED ? EventType.RUN_SUCCESS : EventType.RUN_FAILURE,
      message:
        status === RunStatus.SUCCEEDED
          ? `run succeeded: ${counts.succeeded} step(s)`
          : `run failed: ${describeFailure(error, counts.failed, counts.skipped)}`,
      data: { counts },
    });
  }
  return outcomeOf(final);
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
    ...(run.failedSteps ? { failedSteps: run.failedSteps } : {}),
    ...(run.skippedSteps ? { skippedSteps: run.skippedSteps } : {}),
    counts: { steps: run.stepCount, succeeded: run.succeeded, failed: run.failed, skipped: run.skipped },
  };
}

function describeFailure(error: RunError | undefined, failed: number, skipped: number): string {
  const first = error
    ? `step '${error.step ?? '?'}' failed with ${error.name}: ${error.message}`
    : 'a step failed';
  return `${first} (${failed} failed, ${skipped} skipped)`;
}
