import { retryDelaySeconds } from '../backoff.ts';
import type { Deps } from '../deps.ts';
import { ErrorCode, serializeError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { classifyFailure } from '../failure.ts';
import { type JobPlan, stepSpecOf } from '../job/dag.ts';
import { OnLambdaTimeout } from '../job/defineJob.ts';
import { abortRun } from '../run/abort.ts';
import type { RunEvent } from '../store/types.ts';
import type { RunRef } from './dispatch.ts';
import type { StepMessage } from './messages.ts';
import { releaseDependents, skipDownstream } from './release.ts';

export const AttemptStatus = {
  SUCCEEDED: 'SUCCEEDED',
  RETRYING: 'RETRYING',
  FAILED: 'FAILED',
  /** This delivery found the attempt already finished by another: nothing ran. */
  ALREADY_DONE: 'ALREADY_DONE',
  /** The message is for an attempt that is no longer current (superseded, skipped, canceled). */
  STALE: 'STALE',
  /** The run was canceled: the body did not start, or it was aborted. */
  CANCELED: 'CANCELED',
  /** The attempt ran out of Lambda's time: the next one runs on ECS. */
  PROMOTED: 'PROMOTED',
  /** A map step's message: its expansion was made or finished; the map goes on in its items. */
  EXPANDED: 'EXPANDED',
} as const;
export type AttemptStatus = (typeof AttemptStatus)[keyof typeof AttemptStatus];

export interface AttemptOutcome {
  readonly status: AttemptStatus;
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly outputKey?: string;
}

/** Writes an attempt's events (the runner's AttemptEffects; PollRun's supervision writes them plainly). */
export interface AttemptEvents {
  append(event: Omit<RunEvent, 'at'>): Promise<void>;
}

/**
 * An attempt that ended without success, as the runner or PollRun's task supervisor sees it.
 * These are the step's transitions out of RUNNING attempt n on failure, shared by both; this
 * module imports neither (PollRun's supervision calls it, not the worker's runner).
 */
export interface EndingAttempt {
  readonly run: RunRef;
  readonly plan: JobPlan;
  readonly message: StepMessage;
  /** Writes the attempt's events: the runner's (AttemptEffects) add its deferred STEP_START. */
  readonly events?: AttemptEvents;
}

/**
 * The attempt failed. Within the step's `retries` (and when its `retryable` says so) it
 * becomes QUEUED as the next attempt, sent after a backoff; else the step is FAILED for
 * good: downstream SKIPPED, the run's first error kept, a fail-fast job stopped. Each
 * transition is one conditional write on RUNNING attempt n: whoever loses (a late result,
 * a second supervisor) gets ALREADY_DONE and changes nothing.
 */
export async function failAttempt(
  deps: Deps,
  ending: EndingAttempt,
  error: unknown,
): Promise<AttemptOutcome> {
  const { run, plan, message } = ending;
  const { runId, step, attempt } = message;
  const base = { runId, step, attempt };
  const append = appenderOf(deps, ending);
  const serialized = serializeError(error);
  const spec = stepSpecOf(plan, step);
  const options = spec?.options ?? {};
  const retries = options.retries ?? 0;
  const retryable =
    classifyFailure(error).retryable &&
    retriesUsed(message) < retries &&
    isRetryable(deps, options.retryable, error);

  if (retryable) {
    const scheduled = await deps.store.scheduleRetry(runId, step, attempt, serialized);
    if (!scheduled.ok) return { ...base, status: AttemptStatus.ALREADY_DONE };
    const delaySeconds = retryDelaySeconds(retriesUsed(message) + 1, options.backoff);
    await append({
      runId,
      type: EventType.STEP_RETRY,
      step,
      attempt,
      message: `${serialized.name}: ${serialized.message}`,
      data: { nextAttempt: attempt + 1, delaySeconds, error: serialized },
    });
    await deps.dispatcher.dispatch(run, plan, [nextAttempt(message, delaySeconds)]);
    return { ...base, status: AttemptStatus.RETRYING };
  }

  const recorded = await deps.store.recordFailure(runId, step, attempt, serialized);
  if (!recorded.ok) return { ...base, status: AttemptStatus.ALREADY_DONE };
  // A map item's failure is the run's error only through its map's (lib/step/mapItems.ts).
  const isItem = spec?.itemOf !== undefined;
  // The event before the count: the count can end the run, and its events come first.
  await append({
    runId,
    type: EventType.STEP_FAILURE,
    step,
    attempt,
    message: `${serialized.name}: ${serialized.message}`,
    data: { error: serialized, retriesUsed: retriesUsed(message) },
  });
  await deps.store.addRunCounts(
    runId,
    { failed: 1 },
    isItem
      ? undefined
      : {
          step,
          name: serialized.name,
          message: serialized.message,
          ...(serialized.code ? { code: serialized.code } : {}),
        },
  );
  if (isItem) {
    // Its lane goes on and its map counts it; the map decides whether that fails it.
    await releaseDependents(deps, run, plan, step);
    return { ...base, status: AttemptStatus.FAILED };
  }
  await skipDownstream(deps, runId, plan, step, run.expiresAt);
  if (deps.registry.get(message.job).failFast) {
    await abortRun(deps, runId, {
      step,
      name: serialized.name,
      code: ErrorCode.FAIL_FAST,
      message: `step '${step}' failed and the job is fail-fast: ${serialized.message}`,
    });
  }
  return { ...base, status: AttemptStatus.FAILED };
}

/**
 * Can this attempt move to ECS? A Lambda attempt (not already on ECS) of a step with
 * `onLambdaTimeout: 'ecs'`, on a deployment that has ECS.
 */
export function canPromote(deps: Deps, plan: JobPlan, message: StepMessage): boolean {
  return (
    message.ecs === undefined &&
    deps.config.ecs !== undefined &&
    stepSpecOf(plan, message.step)?.options.onLambdaTimeout === OnLambdaTimeout.ECS
  );
}

/**
 * The attempt ran out of Lambda's time (or its worker died as a timed-out or out-of-memory
 * Lambda does): attempt n+1 is QUEUED with `promotedAt` = n+1 and sent at once, to run on
 * ECS; it does not count as a retry. One conditional write on RUNNING attempt n, as a retry.
 */
export async function promoteToEcs(
  deps: Deps,
  ending: EndingAttempt,
  error: unknown,
): Promise<AttemptOutcome> {
  const { run, plan, message } = ending;
  const { runId, step, attempt } = message;
  const base = { runId, step, attempt };
  const serialized = serializeError(error);
  const scheduled = await deps.store.scheduleRetry(runId, step, attempt, serialized, { promote: true });
  if (!scheduled.ok) return { ...base, status: AttemptStatus.ALREADY_DONE };
  await appenderOf(
    deps,
    ending,
  )({
    runId,
    type: EventType.STEP_PROMOTED,
    step,
    attempt,
    message: `${serialized.message}; attempt ${attempt + 1} runs on ECS`,
    data: { nextAttempt: attempt + 1, error: serialized },
  });
  await deps.dispatcher.dispatch(run, plan, [{ step, attempt: attempt + 1, promotedAt: attempt + 1 }]);
  return { ...base, status: AttemptStatus.PROMOTED };
}

/** Retries spent before this attempt: its number less one, less the promotion's attempt. */
export function retriesUsed(message: StepMessage): number {
  return message.attempt - 1 - (message.ecs?.promotedAt === undefined ? 0 : 1);
}

/** The dispatch of the attempt after `message`, on ECS again if this one was promoted. */
export function nextAttempt(message: StepMessage, delaySeconds: number) {
  const promotedAt = message.ecs?.promotedAt;
  return {
    step: message.step,
    attempt: message.attempt + 1,
    delaySeconds,
    ...(promotedAt === undefined ? {} : { promotedAt }),
  };
}

function appenderOf(deps: Deps, ending: EndingAttempt): (event: Omit<RunEvent, 'at'>) => Promise<void> {
  const events = ending.events;
  if (events) return (event) => events.append(event);
  return (event) => deps.store.appendEvent(event, ending.run.expiresAt);
}

/** The step's own `retryable` predicate; one that throws means "do not retry", and is logged. */
function isRetryable(
  deps: Deps,
  predicate: ((error: unknown) => boolean) | undefined,
  error: unknown,
): boolean {
  if (!predicate) return true;
  try {
    return predicate(error);
  } catch (predicateError) {
    deps.log.error("the step's retryable() threw; not retrying", { error: predicateError });
    return false;
  }
}
