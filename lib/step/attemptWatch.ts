import type { Deps } from '../deps.ts';
import { LambdaTimeoutError, RunCanceledError, StepTimeoutError } from '../errors.ts';
import { RunStatus } from '../status.ts';
import type { StepMessage } from './messages.ts';

/**
 * What ends a step's body from outside while it runs: its timeout (or the worker's
 * deadline), the run's cancel, the worker being told to stop. Each is a watch that aborts
 * the step's signal with its reason and rejects with it; the body races them (lib/step/stepBody.ts).
 */
export interface Watch {
  /** Rejected (never resolved) when the watch fires; an unobserved rejection is kept quiet. */
  readonly promise: Promise<never>;
  stop(): void;
}

export const isCancelingStatus = (status: RunStatus | undefined) =>
  status === RunStatus.CANCELING || status === RunStatus.CANCELED;

/** The tighter of the step's own limit and the worker's deadline; undefined when neither applies. */
export function attemptTimeoutMs(
  timeoutSeconds: number | undefined,
  deadline: number | undefined,
): number | undefined {
  const own = timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000;
  const left = deadline === undefined ? undefined : Math.max(1, deadline - Date.now());
  if (own === undefined) return left;
  if (left === undefined) return own;
  return Math.min(own, left);
}

/**
 * The attempt's timeout: StepTimeoutError after the step's `timeoutSeconds`, or
 * LambdaTimeoutError when the worker's deadline comes first (Lambda's time runs out).
 * Undefined when neither applies.
 */
export function watchTimeout(
  message: StepMessage,
  timeoutSeconds: number | undefined,
  deadline: number | undefined,
  controller: AbortController,
): Watch | undefined {
  const timeoutMs = attemptTimeoutMs(timeoutSeconds, deadline);
  if (timeoutMs === undefined) return undefined;
  const byDeadline =
    deadline !== undefined && (timeoutSeconds === undefined || timeoutMs < timeoutSeconds * 1000);
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const seconds = Math.round(timeoutMs / 1000);
      const error = byDeadline
        ? new LambdaTimeoutError(message.step, seconds)
        : new StepTimeoutError(message.step, seconds);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  promise.catch(() => {});
  return { promise, stop: () => clearTimeout(timer) };
}

/**
 * While a body runs, check the run's status every `cancelCheckSeconds` and abort the
 * step's signal (reason: RunCanceledError) once the run is canceling. Lambda steps have
 * no heartbeat to carry the check, so it polls: one eventually consistent read (half
 * the cost of a consistent one; a stale answer only delays the abort by one interval)
 * per interval per running step, nothing for a step shorter than the interval. The ECS
 * entrypoint runs this same runner, so its tasks get the same watch.
 */
export function watchForCancel(deps: Deps, message: StepMessage, controller: AbortController): Watch {
  let reject: (error: Error) => void = () => {};
  const promise = new Promise<never>((_, r) => {
    reject = r;
  });
  // Only ever rejected when it wins the race; keep an unobserved rejection quiet.
  promise.catch(() => {});
  let checking = false;
  let stopped = false;
  const interval = setInterval(async () => {
    if (checking || stopped || controller.signal.aborted) return;
    checking = true;
    try {
      const status = await deps.store.getRunStatus(message.runId, false);
      // A check still in flight when the body ended must not abort a finished attempt.
      if (!stopped && isCancelingStatus(status)) {
        const error = new RunCanceledError(message.runId, message.step);
        controller.abort(error);
        reject(error);
      }
    } catch (error) {
      // A failed check is retried at the next interval; the step goes on meanwhile.
      deps.log.warn('could not check whether the run was canceled', {
        runId: message.runId,
        step: message.step,
        error,
      });
    } finally {
      checking = false;
    }
  }, deps.config.cancelCheckSeconds * 1000);
  interval.unref();
  return {
    promise,
    stop: () => {
      stopped = true;
      clearInterval(interval);
    },
  };
}

/** Rejected (and `controller` aborted) with `signal`'s reason when it aborts: the worker must stop. */
export function watchSignal(signal: AbortSignal, controller: AbortController): Watch {
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => {
      controller.abort(signal.reason);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, stop: () => signal.removeEventListener('abort', onAbort) };
}
