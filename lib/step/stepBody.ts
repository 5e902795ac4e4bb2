import type { Deps } from '../deps.ts';
import { InvalidMessageError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { type JobPlan, stepSpecOf } from '../job/dag.ts';
import type { StepContext } from '../job/defineJob.ts';
import { s3Keys } from '../store/keys.ts';
import type { AttemptEffects } from './attemptEffects.ts';
import { type Watch, watchForCancel, watchSignal, watchTimeout } from './attemptWatch.ts';
import type { StepMessage } from './messages.ts';
import { ProgressReporter } from './progress.ts';
import { StepLogBuffer } from './stepLog.ts';
import type { Upstream } from './upstream.ts';

export interface BodyLimits {
  /** Epoch ms by which the attempt must have ended (the worker's own deadline, minus a margin). */
  readonly deadline?: number;
  /** Aborted when the worker itself must stop (an ECS task's SIGTERM). */
  readonly signal?: AbortSignal;
}

/**
 * Run the step's function on its upstream outputs, with its context (input, signal, log,
 * progress), until it returns or a watch ends it (lib/step/attemptWatch.ts): its timeout, the
 * run's cancel, the worker's stop. A body that ignores its signal still ends the attempt
 * at once; what it keeps doing stops with the invocation.
 */
export async function runStepBody(
  deps: Deps,
  effects: AttemptEffects,
  plan: JobPlan,
  message: StepMessage,
  upstream: Upstream,
  limits: BodyLimits,
): Promise<unknown> {
  const spec = stepSpecOf(plan, message.step);
  if (!spec) throw new InvalidMessageError(`job '${message.job}' has no step '${message.step}'`);
  const controller = new AbortController();
  const log = deps.log;
  const where = { runId: message.runId, step: message.step, attempt: message.attempt };
  const progress = new ProgressReporter(
    (text, data) =>
      effects.progress(message, {
        ...where,
        type: EventType.STEP_PROGRESS,
        message: text,
        ...(data ? { data } : {}),
      }),
    (error) => log.warn('could not write a STEP_PROGRESS event', { ...where, error }),
  );
  const lines = new StepLogBuffer({ runId: message.runId, step: message.step, attempt: message.attempt });
  const ctx: StepContext<unknown> = {
    input: deps.registry.get(message.job).parseInput(message.input),
    runId: message.runId,
    jobName: message.job,
    stepKey: message.step,
    bucket: deps.config.bucket,
    aws: deps.aws,
    attempt: message.attempt,
    signal: controller.signal,
    log: (text, fields) => {
      lines.add(text, fields);
      log.info(text, { ...where, ...fields });
    },
    progress: (text, data) => progress.report(text, data),
  };
  const watches: Watch[] = [watchForCancel(deps, message, controller)];
  if (limits.signal) watches.push(watchSignal(limits.signal, controller));
  const timeout = watchTimeout(message, spec.options.timeoutSeconds, limits.deadline, controller);
  if (timeout) watches.push(timeout);
  try {
    // An async iterable output (a long list a map step fans out over) is stored as an array.
    const body = Promise.resolve().then(async () => collected(await spec.run(upstream, ctx)));
    return await Promise.race([body, ...watches.map((w) => w.promise)]);
  } finally {
    for (const watch of watches) watch.stop();
    // The last report is written before the outcome, so the log reads in order.
    await progress.close();
    // Before the outcome too: once a reader sees the attempt ended, its lines are there.
    await lines.save(deps.payloads, s3Keys.stepLog(message.runId, message.step, message.attempt), log);
  }
}

async function collected(output: unknown): Promise<unknown> {
  if (typeof output !== 'object' || output === null || !(Symbol.asyncIterator in output)) return output;
  const items: unknown[] = [];
  for await (const item of output as AsyncIterable<unknown>) items.push(item);
  return items;
}
