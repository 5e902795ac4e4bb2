import type { Context } from 'aws-lambda';
import type { Deps } from '../lib/deps.ts';
import { TaskStoppedError } from '../lib/errors.ts';
import { stepSpecOf } from '../lib/job/dag.ts';
import { createIdempotentAttempt } from '../lib/step/idempotentAttempt.ts';
import { decodeStepMessage } from '../lib/step/messages.ts';
import { type AttemptOutcome, type RunnerHooks, StepRunner } from '../lib/step/runner.ts';

export interface TaskOptions {
  /** How often the task marks its step alive (ms). */
  readonly heartbeatMs: number;
  /** Raised by SIGTERM (StopTask): the step's signal is aborted and the attempt fails, to be retried. */
  readonly stop: AbortSignal;
  /** This task's ARN: the claim records it, so PollRun can tell the task that holds the attempt. */
  readonly taskArn?: string;
  readonly hooks?: RunnerHooks;
}

/** The in-progress lock of an attempt without `timeoutSeconds` lasts this long if its task dies. */
const DEFAULT_LOCK_SECONDS = 3_600;

/**
 * One ECS task = one step attempt, run by the same idempotent StepRunner as the Lambda
 * worker: idempotency record, upstream outputs, output, conditional result, dependents.
 * While it runs, a heartbeat keeps the step item fresh, so reconciliation re-sends the
 * step only when the task is gone (no heartbeat for LAMBDAG_RUNNING_LOST_SECONDS).
 */
export async function runStepTask(deps: Deps, body: string, options: TaskOptions): Promise<AttemptOutcome> {
  const message = await decodeStepMessage(body, deps.payloads);
  const plan = deps.registry.get(message.job).plan(deps.registry.get(message.job).parseInput(message.input));
  const timeoutSeconds = stepSpecOf(plan, message.step)?.options.timeoutSeconds;
  const lockMs = ((timeoutSeconds ?? DEFAULT_LOCK_SECONDS) + 60) * 1000;
  const attempt = createIdempotentAttempt(deps, new StepRunner(deps, options.hooks));
  // Powertools ties an in-progress record's expiry to a Lambda context; a task has none,
  // so it gets one whose remaining time is the attempt's own limit.
  const started = Date.now();
  attempt.registerLambdaContext({
    getRemainingTimeInMillis: () => Math.max(0, lockMs - (Date.now() - started)),
  } as Context);

  const heartbeat = setInterval(() => {
    deps.store.heartbeat(message.runId, message.step, message.attempt).catch((error: unknown) => {
      deps.log.warn('heartbeat failed', { runId: message.runId, step: message.step, error });
    });
  }, options.heartbeatMs);
  heartbeat.unref();
  const stop = new AbortController();
  const onStop = () => stop.abort(new TaskStoppedError(message.step, 'SIGTERM'));
  options.stop.addEventListener('abort', onStop, { once: true });
  try {
    return await attempt.run(message, {
      signal: stop.signal,
      ...(timeoutSeconds ? { deadline: started + timeoutSeconds * 1000 } : {}),
      ...(options.taskArn ? { taskArn: options.taskArn, delivery: options.taskArn } : {}),
    });
  } finally {
    clearInterval(heartbeat);
    options.stop.removeEventListener('abort', onStop);
    if (options.taskArn) {
      // Settled: PollRun need not look at this task again (it would find it stopped and settle it too).
      const entry = { step: message.step, attempt: message.attempt, taskArn: options.taskArn };
      await deps.store.untrackTasks(message.runId, [entry]).catch((error: unknown) => {
        deps.log.warn('could not settle the task on its run', { runId: message.runId, error });
      });
    }
  }
}
