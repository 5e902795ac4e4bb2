import { releaseDependents, releasedByMessage, skipDownstream } from './advance.ts';
import type { AttemptBatch } from './attemptBatch.ts';
import {
  type AttemptOutcome,
  AttemptStatus,
  canPromote,
  failAttempt,
  nextAttempt,
  promoteToEcs,
  retriesUsed,
} from './attemptOutcome.ts';
import { retryDelaySeconds } from './backoff.ts';
import { forEachLimit } from './concurrency.ts';
import type { JobPlan } from './dag.ts';
import type { Deps } from './deps.ts';
import type { RunRef } from './dispatch.ts';
import {
  InvalidMessageError,
  LambdaTimeoutError,
  RunCanceledError,
  RunNotFoundError,
  StepTimeoutError,
  TaskStoppedError,
  WorkerLostError,
} from './errors.ts';
import type { StepContext } from './job.ts';
import type { StepMessage } from './messages.ts';
import { PlanCache } from './plans.ts';
import { ProgressReporter } from './progress.ts';
import { RunStatusCache } from './runStatusCache.ts';
import { EventType, RunStatus, StepStatus } from './status.ts';
import { hasOutput, readStepOutput, storeStepOutput } from './stepOutput.ts';
import type { PreparedEvent } from './store/runStore.ts';
import type { RunEvent } from './store/types.ts';

export { type AttemptOutcome, AttemptStatus } from './attemptOutcome.ts';

export interface AttemptLimits {
  /** Epoch ms by which the attempt must have ended (the worker's own deadline, minus a margin). */
  readonly deadline?: number;
  /**
   * Aborted when the worker itself must stop (an ECS task's SIGTERM): the step's signal is
   * aborted with the same reason and the attempt fails with it (and is retried).
   */
  readonly signal?: AbortSignal;
  /** Set when the worker is an ECS task: the claim records it, and PollRun supervises it. */
  readonly taskArn?: string;
  /** The invocation's batch: a success's counter and events are written with the batch's. */
  readonly batch?: AttemptBatch;
  /** This delivery's id (the SQS message id; an ECS task's ARN): recorded on the steps it releases. */
  readonly delivery?: string;
}

/** Fault-injection points for tests and `lambdag simulate`; never set in production. */
export interface RunnerHooks {
  /** Called after the result is recorded, before dependents are released: throw to simulate a crash. */
  afterRecord?(message: StepMessage): void | Promise<void>;
  /** Called after the body returned and its output is stored, before the result is recorded. */
  beforeRecord?(message: StepMessage): void | Promise<void>;
}

const PARALLEL_READS = 16;

/** Upstream steps a streaming step reads at a time (one BatchGetItem). */
const STREAM_PAGE = 100;

/** A step still running after this long has its STEP_START written on its own. */
export const START_EVENT_DELAY_MS = 1_000;

/** Workers lost on one attempt before it fails (instead of dying on every redelivery). */
export const MAX_LOST_WORKERS = 3;

/**
 * Runs one step attempt: claim it, run the step's function on its upstream outputs,
 * store the output, record the result with a conditional write, release dependents.
 * The same runner serves the Lambda worker and the ECS entrypoint.
 */
export class StepRunner {
  private readonly plans: PlanCache;
  /** STEP_START events not yet written, by attempt (see deferStartEvent). */
  private readonly pendingStarts = new Map<string, { event: PreparedEvent; timer: NodeJS.Timeout }>();
  /** Run-status reads in flight, by run (see runStatusSince). */
  private readonly statusReads = new Map<string, Promise<RunStatus | undefined>>();

  constructor(
    private readonly deps: Deps,
    private readonly hooks: RunnerHooks = {},
    /** Run statuses this worker saw lately: a step starts on one without a read of its own. */
    readonly statuses: RunStatusCache = new RunStatusCache(),
  ) {
    this.plans = new PlanCache(deps.registry);
  }

  async run(message: StepMessage, limits: AttemptLimits = {}): Promise<AttemptOutcome> {
    try {
      return await this.runAttempt(message, limits);
    } finally {
      // An attempt that ended without writing its STEP_START (another delivery recorded it) drops it.
      this.takePendingStart(message);
    }
  }

  private async runAttempt(message: StepMessage, limits: AttemptLimits): Promise<AttemptOutcome> {
    const { runId, step, attempt } = message;
    const base = { runId, step, attempt };
    const plan = this.planFor(message);
    const run: RunRef = {
      runId,
      job: message.job,
      input: message.input,
      ...(message.expiresAt === undefined ? {} : { expiresAt: message.expiresAt }),
    };

    const claim = await this.deps.store.claimStep(runId, step, attempt, {
      ...(limits.taskArn ? { taskArn: limits.taskArn } : {}),
      // Its upstream's release sent this message without marking it QUEUED.
      fromWaiting: attempt === 1 && releasedByMessage(plan, step),
    });
    if (!claim.ok) {
      const current = claim.current;
      if (!current) {
        const exists = await this.deps.store.getRun(runId);
        throw new InvalidMessageError(
          exists ? `run '${runId}' has no step '${step}'` : new RunNotFoundError(runId).message,
        );
      }
      if (current.status === StepStatus.SUCCEEDED && current.attempt === attempt) {
        // A delivery after a crash between recording and releasing: finish the release.
        await this.recover(run, plan, step, limits.delivery);
        return {
          ...base,
          status: AttemptStatus.ALREADY_DONE,
          ...(current.outputKey ? { outputKey: current.outputKey } : {}),
        };
      }
      if (current.status === StepStatus.FAILED && current.attempt === attempt) {
        // A delivery after a crash between recording the failure and skipping downstream.
        await skipDownstream(this.deps, runId, plan, step, message.expiresAt);
        await this.deps.store.requestReconcile(runId);
        return { ...base, status: AttemptStatus.ALREADY_DONE };
      }
      if (current.status === StepStatus.QUEUED && current.attempt === attempt + 1) {
        // This attempt failed and scheduled the next one, but may have died before sending it.
        await this.resendRetry(run, plan, message, current.promotedAt);
        return { ...base, status: AttemptStatus.RETRYING };
      }
      this.deps.log.info('stale step message ignored', {
        ...base,
        current: current.status,
        currentAttempt: current.attempt,
      });
      return { ...base, status: AttemptStatus.STALE };
    }

    const lostWorkers = (claim.item.claims ?? 1) - 1;
    if (lostWorkers > 0) {
      await this.deps.store.appendEvent(
        {
          runId,
          type: EventType.STEP_WORKER_LOST,
          step,
          attempt,
          message: `a worker died running attempt ${attempt} (${lostWorkers} so far); claimed again`,
          data: { lostWorkers },
        },
        message.expiresAt,
      );
      const lost = new WorkerLostError(step, attempt, lostWorkers);
      // A Lambda worker dies holding an attempt when the invocation times out with the
      // body blocking the event loop, or runs out of memory: both are what ECS is for.
      if (canPromote(this.deps, plan, message))
        return promoteToEcs(this.deps, this.ending(run, plan, message), lost);
      if (lostWorkers >= MAX_LOST_WORKERS) return this.fail(run, plan, message, lost);
    }

    // Is the run canceled? The claim above is a write on the step item and cannot see the
    // run item (a transaction would cost more and the emulators lack it), so this is the
    // status this worker saw within the last second (its last success's counter write
    // returned it), or else one strongly consistent read (shared by a batch's attempts of
    // one run), made alongside the upstream reads so it adds no latency.
    const [runStatus, upstream] = await Promise.all([
      this.runStatus(runId),
      this.loadUpstream(runId, plan, step, message.upstream),
    ]);
    if (isCancelingStatus(runStatus)) {
      return this.cancel(message, 'the run was canceled before the step started');
    }
    this.deferStartEvent(message);
    const started = Date.now();
    let output: unknown;
    try {
      output = await this.invoke(plan, message, upstream, limits);
    } catch (error) {
      this.bodyEnded(message);
      if (error instanceof RunCanceledError) {
        return this.cancel(message, 'the run was canceled while the step was running');
      }
      if (error instanceof TaskStoppedError && (await this.isCanceling(runId))) {
        // PollRun stopped the task because the run is canceling: not a failure to retry.
        return this.cancel(message, 'the run was canceled while the step was running');
      }
      if (error instanceof LambdaTimeoutError && canPromote(this.deps, plan, message)) {
        return promoteToEcs(this.deps, this.ending(run, plan, message), error);
      }
      return this.fail(run, plan, message, error);
    }
    this.bodyEnded(message);

    const result = await storeStepOutput(this.deps.payloads, { runId, step, attempt }, output);
    const outputKey = 'outputKey' in result ? result.outputKey : undefined;
    const withKey = outputKey ? { outputKey } : {};
    await this.hooks.beforeRecord?.(message);
    const recorded = await this.deps.store.recordSuccess(runId, step, attempt, result, Date.now() - started);
    if (!recorded.ok) return { ...base, status: AttemptStatus.ALREADY_DONE, ...withKey };
    await this.hooks.afterRecord?.(message);

    const success = {
      runId,
      type: EventType.STEP_SUCCESS,
      step,
      attempt,
      data: { durationMs: Date.now() - started },
    };
    if (limits.batch) {
      limits.batch.success(runId, this.takeAttemptEvent(message, success));
    } else {
      this.statuses.note(runId, await this.deps.store.addRunCounts(runId, { succeeded: 1 }));
      await this.appendAttemptEvent(message, success);
    }
    const { batch, delivery } = limits;
    await releaseDependents(this.deps, run, plan, step, {
      output: result,
      ...(delivery ? { delivery } : {}),
      ...(batch
        ? {
            deferFanIn: (dependent: string, index: number) =>
              batch.fanIn(run, plan, dependent, index, delivery),
          }
        : {}),
    });
    return { ...base, status: AttemptStatus.SUCCEEDED, ...withKey };
  }

  /**
   * STEP_START is written in the attempt's next event's item (a short step's START and
   * SUCCESS are one item, one write unit; listEvents returns both), or on its own once the
   * body has run for START_EVENT_DELAY_MS, so a long step shows as started while it runs.
   * Its time is that of the start either way; in the first case it is listed just before
   * its outcome, as it becomes visible with it.
   */
  private deferStartEvent(message: StepMessage): void {
    const { runId, step, attempt } = message;
    const key = attemptKey(message);
    const event = this.deps.store.prepareEvent(
      { runId, type: EventType.STEP_START, step, attempt },
      undefined,
      message.expiresAt,
    );
    const timer = setTimeout(() => {
      if (!this.pendingStarts.delete(key)) return;
      this.deps.store.putEvents([event]).catch((error: unknown) => {
        this.deps.log.warn('could not write a STEP_START event', { runId, step, attempt, error });
      });
    }, START_EVENT_DELAY_MS);
    timer.unref();
    this.pendingStarts.set(key, { event, timer });
  }

  /**
   * The body is over: a STEP_START not yet written waits for the outcome's write (which
   * follows at once), instead of taking a request of its own when recording the outcome
   * takes longer than START_EVENT_DELAY_MS on a busy worker.
   */
  private bodyEnded(message: StepMessage): void {
    const pending = this.pendingStarts.get(attemptKey(message));
    if (pending) clearTimeout(pending.timer);
  }

  /** Append an event of this attempt, with its STEP_START if that is still waiting. */
  private async appendAttemptEvent(message: StepMessage, event: Omit<RunEvent, 'at'>): Promise<void> {
    await this.deps.store.putEvents([this.takeAttemptEvent(message, event)]);
  }

  /** The event, prepared, standing for the attempt's STEP_START too if that was not written yet. */
  private takeAttemptEvent(message: StepMessage, event: Omit<RunEvent, 'at'>): PreparedEvent {
    return this.deps.store.prepareEvent(event, this.takePendingStart(message)?.at, message.expiresAt);
  }

  /** The attempt's STEP_START if it was not written yet, no longer waiting on its timer. */
  private takePendingStart(message: StepMessage): PreparedEvent | undefined {
    const key = attemptKey(message);
    const pending = this.pendingStarts.get(key);
    if (!pending) return undefined;
    clearTimeout(pending.timer);
    this.pendingStarts.delete(key);
    return pending.event;
  }

  /**
   * The run's status: as this worker saw it within RUN_STATUS_FRESH_MS, else one strongly
   * consistent read shared by the attempts of a run that ask while it is in flight (a
   * fan-out's batch). The check is a race with a cancel either way (a cancel right after
   * the read, or inside the freshness window, lets the body start, and the watch aborts
   * it); what guarantees that queued steps never start is PollRun marking them CANCELED,
   * which fails their claim.
   */
  private runStatus(runId: string): Promise<RunStatus | undefined> {
    const known = this.statuses.fresh(runId);
    if (known !== undefined) return Promise.resolve(known);
    return this.readRunStatus(runId);
  }

  private readRunStatus(runId: string): Promise<RunStatus | undefined> {
    const inFlight = this.statusReads.get(runId);
    if (inFlight) return inFlight;
    const read = this.deps.store
      .getRunStatus(runId, true)
      .then((status) => {
        this.statuses.note(runId, status);
        return status;
      })
      .finally(() => this.statusReads.delete(runId));
    this.statusReads.set(runId, read);
    return read;
  }

  /** Asked after the worker was told to stop: a read, as the answer decides cancel or retry. */
  private async isCanceling(runId: string): Promise<boolean> {
    return isCancelingStatus(await this.readRunStatus(runId));
  }

  private planFor(message: StepMessage): JobPlan {
    let plan: JobPlan;
    try {
      plan = this.plans.get(message.runId, message.job, message.input);
    } catch (error) {
      // Unknown job or input its job no longer accepts: a poison message, not a retry.
      throw new InvalidMessageError(`cannot plan run '${message.runId}': ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!plan.steps.has(message.step)) {
      throw new InvalidMessageError(`job '${message.job}' has no step '${message.step}'`);
    }
    return plan;
  }

  /**
   * The step's upstream outputs: an object by name, or for a streaming step an async
   * iterable that reads them page by page while the body runs.
   */
  private async loadUpstream(
    runId: string,
    plan: JobPlan,
    step: string,
    carried: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Record<string, unknown> | AsyncIterable<readonly [string, unknown]>> {
    const spec = plan.steps.get(step);
    const aliases = Object.entries(spec?.dependsOn ?? {});
    if (spec?.streamUpstream) return this.streamUpstream(runId, step, aliases);
    if (aliases.length === 0) return {};
    const keys = plan.upstream.get(step) ?? [];
    if (carried && keys.every((key) => Object.hasOwn(carried, key))) {
      return Object.fromEntries(aliases.map(([alias, key]) => [alias, carried[key]]));
    }
    const outputs = await this.readOutputs(runId, step, keys);
    return Object.fromEntries(aliases.map(([alias, key]) => [alias, outputs.get(key)]));
  }

  /**
   * `[alias, output]` in `dependsOn` order, STREAM_PAGE upstream steps at a time, the next
   * page read while the body works through this one: at most two pages in memory.
   */
  private async *streamUpstream(
    runId: string,
    step: string,
    aliases: readonly (readonly [string, string])[],
  ): AsyncGenerator<readonly [string, unknown]> {
    const pages: (readonly (readonly [string, string])[])[] = [];
    for (let i = 0; i < aliases.length; i += STREAM_PAGE) pages.push(aliases.slice(i, i + STREAM_PAGE));
    const read = (page: readonly (readonly [string, string])[]) => {
      const reading = this.readOutputs(runId, step, [...new Set(page.map(([, key]) => key))]);
      // Awaited in turn below; a failure of a page read ahead must not go unobserved meanwhile.
      reading.catch(() => {});
      return reading;
    };
    let next = pages[0] ? read(pages[0]) : undefined;
    for (let i = 0; i < pages.length; i++) {
      const outputs = await (next as Promise<Map<string, unknown>>);
      const following = pages[i + 1];
      next = following ? read(following) : undefined;
      for (const [alias, key] of pages[i] ?? []) yield [alias, outputs.get(key)] as const;
    }
  }

  /** The recorded outputs of these upstream steps, each of which must have SUCCEEDED. */
  private async readOutputs(
    runId: string,
    step: string,
    keys: readonly string[],
  ): Promise<Map<string, unknown>> {
    const records = await this.deps.store.getSteps(runId, keys);
    const outputs = new Map<string, unknown>();
    await forEachLimit([...records.values()], PARALLEL_READS, async (record) => {
      if (record.status !== StepStatus.SUCCEEDED || !hasOutput(record)) {
        throw new Error(`upstream step '${record.key}' of '${step}' is ${record.status}, not SUCCEEDED`);
      }
      outputs.set(record.key, await readStepOutput(this.deps.payloads, record));
    });
    for (const key of keys) {
      if (!outputs.has(key)) throw new Error(`upstream step '${key}' of '${step}' has no recorded output`);
    }
    return outputs;
  }

  private async invoke(
    plan: JobPlan,
    message: StepMessage,
    upstream: Record<string, unknown> | AsyncIterable<readonly [string, unknown]>,
    limits: AttemptLimits,
  ): Promise<unknown> {
    const spec = plan.steps.get(message.step);
    if (!spec) throw new InvalidMessageError(`job '${message.job}' has no step '${message.step}'`);
    const controller = new AbortController();
    const timeoutMs = attemptTimeoutMs(spec.options.timeoutSeconds, limits.deadline);
    // The worker's deadline, not the step's own limit, is the tighter one: Lambda's time runs out.
    const byDeadline =
      timeoutMs !== undefined &&
      limits.deadline !== undefined &&
      (spec.options.timeoutSeconds === undefined || timeoutMs < spec.options.timeoutSeconds * 1000);
    const log = this.deps.log;
    const where = { runId: message.runId, step: message.step, attempt: message.attempt };
    const progress = new ProgressReporter(
      (text, data) =>
        this.deps.store.appendEvent(
          {
            ...where,
            type: EventType.STEP_PROGRESS,
            message: text,
            ...(data ? { data } : {}),
          },
          message.expiresAt,
        ),
      (error) => log.warn('could not write a STEP_PROGRESS event', { ...where, error }),
    );
    const ctx: StepContext<unknown> = {
      input: this.deps.registry.get(message.job).parseInput(message.input),
      runId: message.runId,
      jobName: message.job,
      stepKey: message.step,
      attempt: message.attempt,
      signal: controller.signal,
      log: (text, fields) => log.info(text, { ...where, ...fields }),
      progress: (text, data) => progress.report(text, data),
    };
    const canceled = this.watchForCancel(message, controller);
    const stopped = limits.signal ? abortedBy(limits.signal, controller) : undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout =
      timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const seconds = Math.round(timeoutMs / 1000);
              const error = byDeadline
                ? new LambdaTimeoutError(message.step, seconds)
                : new StepTimeoutError(message.step, seconds);
              controller.abort(error);
              reject(error);
            }, timeoutMs);
          });
    try {
      const body = Promise.resolve().then(() => spec.run(upstream, ctx));
      // A body that ignores its signal still ends the attempt at once; what it keeps doing
      // stops with the invocation.
      const racers: Promise<unknown>[] = [body, canceled.promise];
      if (timeout) racers.push(timeout);
      if (stopped) racers.push(stopped.promise);
      return await Promise.race(racers);
    } finally {
      if (timer) clearTimeout(timer);
      canceled.stop();
      stopped?.stop();
      // The last report is written before the outcome, so the log reads in order.
      await progress.close();
    }
  }

  /**
   * While a body runs, check the run's status every `cancelCheckSeconds` and abort the
   * step's signal (reason: RunCanceledError) once the run is canceling. Lambda steps have
   * no heartbeat to carry the check, so it polls: one eventually consistent read (half
   * the cost of a consistent one; a stale answer only delays the abort by one interval)
   * per interval per running step, nothing for a step shorter than the interval. The ECS
   * entrypoint runs this same runner, so its tasks get the same watch; a task heartbeat,
   * when ECS lands, is where StopTask-side handling would plug in.
   */
  private watchForCancel(
    message: StepMessage,
    controller: AbortController,
  ): { promise: Promise<never>; stop: () => void } {
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
        const status = await this.deps.store.getRunStatus(message.runId, false);
        // A check still in flight when the body ended must not abort a finished attempt.
        if (!stopped && isCancelingStatus(status)) {
          const error = new RunCanceledError(message.runId, message.step);
          controller.abort(error);
          reject(error);
        }
      } catch (error) {
        // A failed check is retried at the next interval; the step goes on meanwhile.
        this.deps.log.warn('could not check whether the run was canceled', {
          runId: message.runId,
          step: message.step,
          error,
        });
      } finally {
        checking = false;
      }
    }, this.deps.config.cancelCheckSeconds * 1000);
    interval.unref();
    return {
      promise,
      stop: () => {
        stopped = true;
        clearInterval(interval);
      },
    };
  }

  /** The run was canceled: this attempt ends CANCELED (RUNNING attempt n -> CANCELED), never retried. */
  private async cancel(message: StepMessage, because: string): Promise<AttemptOutcome> {
    const { runId, step, attempt } = message;
    const base = { runId, step, attempt };
    const marked = await this.deps.store.markStepCanceled(
      runId,
      step,
      [StepStatus.RUNNING],
      because,
      attempt,
    );
    if (!marked.ok) {
      // PollRun gave up on it first (grace period), or another delivery recorded it.
      return {
        ...base,
        status:
          marked.current?.status === StepStatus.CANCELED
            ? AttemptStatus.CANCELED
            : AttemptStatus.ALREADY_DONE,
      };
    }
    await this.appendAttemptEvent(message, {
      runId,
      type: EventType.STEP_CANCELED,
      step,
      attempt,
      message: because,
    });
    return { ...base, status: AttemptStatus.CANCELED };
  }

  private fail(run: RunRef, plan: JobPlan, message: StepMessage, error: unknown): Promise<AttemptOutcome> {
    return failAttempt(this.deps, this.ending(run, plan, message), error);
  }

  private ending(run: RunRef, plan: JobPlan, message: StepMessage) {
    return {
      run,
      plan,
      message,
      appendEvent: (event: Omit<RunEvent, 'at'>) => this.appendAttemptEvent(message, event),
    };
  }

  /**
   * Send the next attempt again (a duplicate if the first send got through, which the claim
   * absorbs); `promotedAt` is the step's, as the next attempt may be the promoted one.
   */
  private async resendRetry(
    run: RunRef,
    plan: JobPlan,
    message: StepMessage,
    promotedAt: number | undefined,
  ): Promise<void> {
    const backoff = plan.steps.get(message.step)?.options.backoff;
    const next = nextAttempt(
      message,
      promotedAt === message.attempt + 1 ? 0 : retryDelaySeconds(retriesUsed(message) + 1, backoff),
    );
    await this.deps.dispatcher.dispatch(run, plan, [
      { ...next, ...(promotedAt === undefined ? {} : { promotedAt }) },
    ]);
  }

  /**
   * The attempt was recorded SUCCEEDED but its continuation may not have finished:
   * release its dependents again (idempotent) and ask pollRun to recount the run's
   * counters, which the crash may have left behind.
   */
  private async recover(run: RunRef, plan: JobPlan, step: string, delivery?: string): Promise<void> {
    await releaseDependents(this.deps, run, plan, step, { retry: true, ...(delivery ? { delivery } : {}) });
    await this.deps.store.requestReconcile(run.runId);
  }
}

const attemptKey = (message: StepMessage) => `${message.runId}/${message.step}/${message.attempt}`;

const isCancelingStatus = (status: RunStatus | undefined) =>
  status === RunStatus.CANCELING || status === RunStatus.CANCELED;

/** A promise rejected (and `controller` aborted) with `signal`'s reason when it aborts. */
function abortedBy(
  signal: AbortSignal,
  controller: AbortController,
): { promise: Promise<never>; stop: () => void } {
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
