import { retryDelaySeconds } from '../backoff.ts';
import type { Deps } from '../deps.ts';
import {
  InvalidMessageError,
  LambdaTimeoutError,
  RunCanceledError,
  RunNotFoundError,
  TaskStoppedError,
  WorkerLostError,
} from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { isMapStep, type JobPlan, stepSpecOf } from '../job/dag.ts';
import { PlanCache } from '../job/plans.ts';
import { RunStatusCache } from '../run/runStatusCache.ts';
import { type RunStatus, StepStatus } from '../status.ts';
import type { StepRecord } from '../store/types.ts';
import { AttemptEffects } from './attemptEffects.ts';
import {
  type AttemptOutcome,
  AttemptStatus,
  canPromote,
  type EndingAttempt,
  failAttempt,
  nextAttempt,
  promoteToEcs,
  retriesUsed,
} from './attemptOutcome.ts';
import { isCancelingStatus } from './attemptWatch.ts';
import { type RunRef, runRefOfMessage } from './dispatch.ts';
import type { StepMessage } from './messages.ts';
import { releaseDependents, releasedByMessage, resumeExpansion, skipDownstream } from './release.ts';
import { type BodyLimits, runStepBody } from './stepBody.ts';
import { storeStepOutput } from './stepOutput.ts';
import { loadUpstream } from './upstream.ts';

export { type AttemptOutcome, AttemptStatus } from './attemptOutcome.ts';
export { attemptTimeoutMs } from './attemptWatch.ts';
export { START_EVENT_DELAY_MS } from './startEvents.ts';

export interface AttemptLimits extends BodyLimits {
  /** Set when the worker is an ECS task: the claim records it, and PollRun supervises it. */
  readonly taskArn?: string;
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

/** Workers lost on one attempt before it fails (instead of dying on every redelivery). */
export const MAX_LOST_WORKERS = 3;

/**
 * Runs one step attempt: claim it, run the step's function on its upstream outputs
 * (lib/step/upstream.ts, lib/step/stepBody.ts), store the output, record the result with a
 * conditional write, release dependents. What the attempt writes besides the step item
 * (events, counters, its idempotency record, fan-in releases) goes through the
 * AttemptEffects it is given. The same runner serves the Lambda worker and the ECS entrypoint.
 */
export class StepRunner {
  private readonly plans: PlanCache;
  /** Run-status reads in flight, by run (see runStatus). */
  private readonly statusReads = new Map<string, Promise<RunStatus | undefined>>();

  constructor(
    private readonly deps: Deps,
    private readonly hooks: RunnerHooks = {},
    /** Run statuses this worker saw lately: a step starts on one without a read of its own. */
    private readonly statuses: RunStatusCache = new RunStatusCache(),
  ) {
    this.plans = new PlanCache(deps.registry);
  }

  /** Without `effects` (a test, a one-off), the attempt's are written as they happen. */
  async run(
    message: StepMessage,
    limits: AttemptLimits = {},
    effects: AttemptEffects = new AttemptEffects(this.deps, { statuses: this.statuses }),
  ): Promise<AttemptOutcome> {
    try {
      return await this.runAttempt(message, limits, effects);
    } finally {
      effects.attemptEnded(message);
    }
  }

  private async runAttempt(
    message: StepMessage,
    limits: AttemptLimits,
    effects: AttemptEffects,
  ): Promise<AttemptOutcome> {
    const { runId, step, attempt } = message;
    const plan = this.planFor(message);
    const run = runRefOfMessage(message);
    // A map step's own message (a rerun's, reconciliation's): expand it, or finish doing so.
    if (isMapStep(plan, step)) await resumeExpansion(this.deps, run, plan, step);
    if (isMapStep(plan, step)) return { runId, step, attempt, status: AttemptStatus.EXPANDED };

    const claim = await this.deps.store.claimStep(runId, step, attempt, {
      ...(limits.taskArn ? { taskArn: limits.taskArn } : {}),
      // Its upstream's release sent this message without marking it QUEUED.
      fromWaiting: attempt === 1 && releasedByMessage(plan, step),
    });
    if (!claim.ok) return this.notClaimed(run, plan, message, claim.current, limits);

    const lostWorkers = (claim.item.claims ?? 1) - 1;
    if (lostWorkers > 0) {
      const lost = await this.workerLost(run, plan, message, lostWorkers, effects);
      if (lost) return lost;
    }

    // Is the run canceled? The claim above is a write on the step item and cannot see the
    // run item (a transaction would cost more and the emulators lack it), so this is the
    // status this worker saw within the last second (its last success's counter write
    // returned it), or else one strongly consistent read (shared by a batch's attempts of
    // one run), made alongside the upstream reads so it adds no latency.
    const [runStatus, upstream] = await Promise.all([
      this.runStatus(runId),
      loadUpstream(this.deps, runId, plan, step, message.upstream, claim.item),
    ]);
    if (isCancelingStatus(runStatus)) {
      return this.cancel(message, effects, 'the run was canceled before the step started');
    }
    effects.bodyStarted(message);
    const started = Date.now();
    let output: unknown;
    try {
      output = await runStepBody(this.deps, effects, plan, message, upstream, limits);
    } catch (error) {
      effects.bodyEnded(message);
      return this.bodyFailed(run, plan, message, effects, error);
    }
    effects.bodyEnded(message);
    return this.succeed(run, plan, message, effects, output, started, limits.delivery, claim.item);
  }

  /**
   * The claim failed: another delivery has the attempt, or it is over. Finish what a crashed
   * delivery may have left undone, or drop a stale message.
   */
  private async notClaimed(
    run: RunRef,
    plan: JobPlan,
    message: StepMessage,
    current: StepRecord | undefined,
    limits: AttemptLimits,
  ): Promise<AttemptOutcome> {
    const { runId, step, attempt } = message;
    const base = { runId, step, attempt };
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
      // A delivery after a crash between recording the failure and skipping downstream (or releasing, a map item).
      if (current.item) await releaseDependents(this.deps, run, plan, step, { retry: true, record: current });
      else await skipDownstream(this.deps, runId, plan, step, message.expiresAt);
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

  /**
   * The claim took the attempt from workers that died holding it: recorded, and the attempt
   * promoted to ECS or, past MAX_LOST_WORKERS, failed. Undefined when it runs here once more.
   */
  private async workerLost(
    run: RunRef,
    plan: JobPlan,
    message: StepMessage,
    lostWorkers: number,
    effects: AttemptEffects,
  ): Promise<AttemptOutcome | undefined> {
    const { runId, step, attempt } = message;
    await effects.append(message, {
      runId,
      type: EventType.STEP_WORKER_LOST,
      step,
      attempt,
      message: `a worker died running attempt ${attempt} (${lostWorkers} so far); claimed again`,
      data: { lostWorkers },
    });
    const lost = new WorkerLostError(step, attempt, lostWorkers);
    // A Lambda worker dies holding an attempt when the invocation times out with the
    // body blocking the event loop, or runs out of memory: both are what ECS is for.
    const ending = this.ending(run, plan, message, effects);
    if (canPromote(this.deps, plan, message)) return promoteToEcs(this.deps, ending, lost);
    if (lostWorkers >= MAX_LOST_WORKERS) return failAttempt(this.deps, ending, lost);
    return undefined;
  }

  /** The body threw, or a watch ended it: canceled, promoted to ECS, or failed (and maybe retried). */
  private async bodyFailed(
    run: RunRef,
    plan: JobPlan,
    message: StepMessage,
    effects: AttemptEffects,
    error: unknown,
  ): Promise<AttemptOutcome> {
    const canceledWhileRunning = 'the run was canceled while the step was running';
    if (error instanceof RunCanceledError) return this.cancel(message, effects, canceledWhileRunning);
    if (error instanceof TaskStoppedError && (await this.isCanceling(message.runId))) {
      // PollRun stopped the task because the run is canceling: not a failure to retry.
      return this.cancel(message, effects, canceledWhileRunning);
    }
    const ending = this.ending(run, plan, message, effects);
    if (error instanceof LambdaTimeoutError && canPromote(this.deps, plan, message)) {
      return promoteToEcs(this.deps, ending, error);
    }
    return failAttempt(this.deps, ending, error);
  }

  /** The body returned: store its output, record the success, release the dependents. */
  private async succeed(
    run: RunRef,
    plan: JobPlan,
    message: StepMessage,
    effects: AttemptEffects,
    output: unknown,
    started: number,
    delivery: string | undefined,
    claimed: StepRecord,
  ): Promise<AttemptOutcome> {
    const { runId, step, attempt } = message;
    const base = { runId, step, attempt };
    const result = await storeStepOutput(this.deps.payloads, { runId, step, attempt }, output);
    const outputKey = 'outputKey' in result ? result.outputKey : undefined;
    const withKey = outputKey ? { outputKey } : {};
    await this.hooks.beforeRecord?.(message);
    const recorded = await this.deps.store.recordSuccess(runId, step, attempt, result, Date.now() - started);
    if (!recorded.ok) return { ...base, status: AttemptStatus.ALREADY_DONE, ...withKey };
    await this.hooks.afterRecord?.(message);

    await effects.succeeded(message, {
      runId,
      type: EventType.STEP_SUCCESS,
      step,
      attempt,
      data: { durationMs: Date.now() - started },
    });
    await releaseDependents(this.deps, run, plan, step, {
      output: result,
      ...(delivery ? { delivery } : {}),
      fanIns: effects,
      record: claimed,
    });
    return { ...base, status: AttemptStatus.SUCCEEDED, ...withKey };
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

  planFor(message: StepMessage): JobPlan {
    let plan: JobPlan;
    try {
      plan = this.plans.get(message.runId, message.job, message.input);
    } catch (error) {
      // Unknown job or input its job no longer accepts: a poison message, not a retry.
      throw new InvalidMessageError(`cannot plan run '${message.runId}': ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (!stepSpecOf(plan, message.step)) {
      throw new InvalidMessageError(`job '${message.job}' has no step '${message.step}'`);
    }
    return plan;
  }

  /** The run was canceled: this attempt ends CANCELED (RUNNING attempt n -> CANCELED), never retried. */
  private async cancel(
    message: StepMessage,
    effects: AttemptEffects,
    because: string,
  ): Promise<AttemptOutcome> {
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
    await effects.append(message, {
      runId,
      type: EventType.STEP_CANCELED,
      step,
      attempt,
      message: because,
    });
    return { ...base, status: AttemptStatus.CANCELED };
  }

  private ending(run: RunRef, plan: JobPlan, message: StepMessage, effects: AttemptEffects): EndingAttempt {
    return { run, plan, message, events: effects.eventsOf(message) };
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
    const backoff = stepSpecOf(plan, message.step)?.options.backoff;
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
