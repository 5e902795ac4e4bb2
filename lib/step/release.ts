import { forEachLimit } from '../concurrency.ts';
import type { Deps } from '../deps.ts';
import { PlanMismatchError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { descendantsOf, isMapStep, type JobPlan, stepSpecOf } from '../job/dag.ts';
import { Runtime } from '../job/defineJob.ts';
import { StepStatus } from '../status.ts';
import type { RunExpiry, StepResult } from '../store/runStore.ts';
import type { StepRecord } from '../store/types.ts';
import type { DispatchItem, RunRef } from './dispatch.ts';
import { resolveOf, resolveUpstream } from './fanIn.ts';
import { expandMap } from './mapExpansion.ts';
import { endMap } from './mapItems.ts';

const PARALLEL_WRITES = 16;

/**
 * Whether a step is released by its message alone, with no WAITING -> QUEUED write: a
 * Lambda step with one upstream. That upstream sends the message only once its result is
 * recorded, so the message is proof enough (and carries the output); the step's claim
 * takes it from WAITING to RUNNING, and stays the one winner among its deliveries. A
 * fan-in needs its pending count, and an ECS step stays QUEUED-first, as its launch and
 * PollRun's supervision of it go by QUEUED.
 */
export function releasedByMessage(plan: JobPlan, key: string): boolean {
  const spec = stepSpecOf(plan, key);
  // A map item is sent by its map's expansion or by the item before it in its lane.
  const oneUpstream = spec?.itemOf !== undefined || (plan.upstream.get(key) ?? []).length === 1;
  return oneUpstream && spec?.options.runtime !== Runtime.ECS;
}

/**
 * After a step succeeded: release its dependents. One released by its message alone
 * (releasedByMessage) is sent at once; one with several upstream steps has its pending
 * counter decremented (once per upstream, however often this runs), and a writer that
 * sees it at zero queues it (a wide fan-in counts down on shards: lib/step/fanIn.ts). The
 * WAITING -> QUEUED write has exactly one winner, so each dependent is dispatched once;
 * `retry` (a redelivery after a crash) goes through that write for every dependent, and
 * also re-sends a dependent left QUEUED by the same delivery.
 */
export async function releaseDependents(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  stepKey: string,
  options: {
    readonly retry?: boolean;
    /** The released step's output when it is inline: sent along to single-upstream dependents. */
    readonly output?: StepResult;
    /** The delivery releasing it (SQS message id, ECS task ARN), recorded on what it queues. */
    readonly delivery?: string;
    /**
     * Takes the fan-in dependents instead of resolving them here, when it can: the worker's
     * batch (AttemptEffects) resolves those of all its attempts together (releaseFanIn)
     * before the invocation returns.
     */
    readonly fanIns?: FanInDeferral;
    /** A map item's record (its claim's), sparing a read of it. */
    readonly record?: StepRecord;
  } = {},
): Promise<string[]> {
  if (stepSpecOf(plan, stepKey)?.itemOf !== undefined)
    return releaseAfterItem(deps, run, plan, stepKey, options);
  const ready: string[] = [];
  const carried =
    options.output && 'output' in options.output ? { [stepKey]: options.output.output } : undefined;
  await forEachLimit(plan.dependents.get(stepKey) ?? [], PARALLEL_WRITES, async (dependent) => {
    if (isMapStep(plan, dependent)) {
      const ended = await expandMap(deps, run, plan, dependent, options.output);
      await afterMapEnded(deps, run, plan, dependent, ended, options);
      return;
    }
    const upstream = plan.upstream.get(dependent) ?? [];
    if (upstream.length > 1) {
      const index = plan.upstreamIndex.get(dependent)?.get(stepKey);
      if (index === undefined) throw new PlanMismatchError(stepKey, dependent);
      if (
        options.retry !== true &&
        options.fanIns?.deferFanIn(run, plan, dependent, index, options.delivery)
      ) {
        return;
      }
      if (!(await resolveUpstream(deps, run.runId, plan, dependent, [index]))) return;
    } else if (options.retry !== true && releasedByMessage(plan, dependent)) {
      // The first release: only this delivery is sending it. A recovery (retry) marks it
      // QUEUED instead, so two recovering deliveries do not both send it.
      ready.push(dependent);
      return;
    }
    if (await queueForSending(deps, run.runId, dependent, options)) ready.push(dependent);
  });
  const items: DispatchItem[] = ready.map((step) => ({
    step,
    attempt: 1,
    // Its only upstream is this step, whose output is final once recorded: no read needed.
    ...(carried && (plan.upstream.get(step) ?? []).length === 1 ? { upstream: carried } : {}),
  }));
  if (items.length > 0) await deps.dispatcher.dispatch(run, plan, items);
  return ready;
}

/**
 * A map item ended (succeeded, or failed for good): send the next item of its lane, and
 * count it on its map step's fan-in; the release that takes that to zero ends the map step
 * (lib/step/mapItems.ts) and releases, or skips, what depends on it.
 */
async function releaseAfterItem(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  itemKey: string,
  options: {
    readonly retry?: boolean;
    readonly delivery?: string;
    readonly record?: StepRecord;
    readonly fanIns?: FanInDeferral;
  },
): Promise<string[]> {
  const record = options.record?.item ? options.record : await deps.store.getStep(run.runId, itemKey);
  const item = record?.item;
  if (!item) throw new PlanMismatchError(itemKey, stepSpecOf(plan, itemKey)?.itemOf ?? itemKey);
  const ready: string[] = [];
  if (item.next !== undefined) {
    const released = options.retry !== true && releasedByMessage(plan, item.next);
    if (released || (await queueForSending(deps, run.runId, item.next, options))) ready.push(item.next);
  }
  if (ready.length > 0)
    await deps.dispatcher.dispatch(
      run,
      plan,
      ready.map((step) => ({ step, attempt: 1 })),
    );
  // Counted with the batch's other items of the map when the worker batches: one write for them.
  const { retry, delivery, fanIns } = options;
  if (retry !== true && fanIns?.deferFanIn(run, plan, item.map, item.index, delivery, item.count))
    return ready;
  if (await resolveOf(deps, run.runId, item.map, item.count, [item.index])) {
    await afterMapEnded(deps, run, plan, item.map, await endMap(deps, run, plan, item.map), options);
  }
  return ready;
}

/**
 * A map step's own message: a rerun's map over a reused list (sent as a root), or
 * reconciliation's re-send of an expansion that stalled (its worker lost, its upstream's
 * redeliveries used up). The expansion begins, or carries on from its checkpoint.
 */
export async function resumeExpansion(deps: Deps, run: RunRef, plan: JobPlan, mapKey: string): Promise<void> {
  const ended = await expandMap(deps, run, plan, mapKey);
  await afterMapEnded(deps, run, plan, mapKey, ended, { retry: true });
}

/** A map step that ended releases its dependents (SUCCEEDED) or skips them (FAILED). */
async function afterMapEnded(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  mapKey: string,
  status: StepStatus | undefined,
  options: { readonly retry?: boolean; readonly delivery?: string },
): Promise<void> {
  if (status === StepStatus.SUCCEEDED) {
    await releaseDependents(deps, run, plan, mapKey, {
      ...(options.retry ? { retry: true } : {}),
      ...(options.delivery ? { delivery: options.delivery } : {}),
    });
  } else if (status === StepStatus.FAILED) {
    await skipDownstream(deps, run.runId, plan, mapKey, run.expiresAt);
  }
}

/** Where a success's fan-in releases go instead of being resolved at once (AttemptEffects). */
export interface FanInDeferral {
  /** True when the release was taken, to be written with the batch's others. */
  deferFanIn(
    run: RunRef,
    plan: JobPlan,
    dependent: string,
    upstreamIndex: number,
    delivery?: string,
    /** A map step's item count, when the fan-in is a map's (not in the plan). */
    upstreamCount?: number,
  ): boolean;
}

/** Upstream steps of one fan-in that an invocation's attempts resolved, gathered by AttemptBatch. */
export interface FanInRelease {
  readonly run: RunRef;
  readonly plan: JobPlan;
  readonly dependent: string;
  readonly upstreamIndices: readonly number[];
  /** A delivery among them, recorded on the fan-in if this release queues it. */
  readonly delivery?: string;
  /** The fan-in is a map step's, of this many items (lib/step/mapItems.ts). */
  readonly upstreamCount?: number;
}

/**
 * Resolve a batch's upstream steps of one fan-in in one write; queue and send it if none is
 * left. `retry`: an earlier try of this same release may have queued it and then failed to
 * send it, so a fan-in found QUEUED by this delivery is sent again (see queueForSending).
 */
export async function releaseFanIn(
  deps: Deps,
  release: FanInRelease,
  options: { readonly retry?: boolean } = {},
): Promise<boolean> {
  const { run, plan, dependent } = release;
  if (release.upstreamCount !== undefined) {
    // A map step's items: at zero the map ends, and releases or skips its dependents.
    const { upstreamCount: count, upstreamIndices: indices, delivery } = release;
    if (!(await resolveOf(deps, run.runId, dependent, count, indices))) return false;
    const ended = await endMap(deps, run, plan, dependent);
    await afterMapEnded(deps, run, plan, dependent, ended, { ...(delivery ? { delivery } : {}), ...options });
    return true;
  }
  if (!(await resolveUpstream(deps, run.runId, plan, dependent, release.upstreamIndices))) return false;
  const queued = await queueForSending(deps, run.runId, dependent, {
    ...(release.delivery ? { delivery: release.delivery } : {}),
    ...(options.retry ? { retry: true } : {}),
  });
  if (queued) await deps.dispatcher.dispatch(run, plan, [{ step: dependent, attempt: 1 }]);
  return queued;
}

/**
 * WAITING -> QUEUED, by this delivery: true if the caller is to send it. Still QUEUED at
 * attempt 1 when this release is a retry after a crash: that crash may have come between
 * marking it and sending its message, so send again — if it was this same delivery that
 * queued it (its redelivery, or an in-place retry). Another delivery of the upstream (a
 * duplicate) that queued it is alive and sending it, or, if it died, its own redelivery
 * re-sends it; a re-send here would dispatch the step twice.
 */
async function queueForSending(
  deps: Deps,
  runId: string,
  dependent: string,
  options: { readonly retry?: boolean; readonly delivery?: string },
): Promise<boolean> {
  const queued = await deps.store.markQueued(runId, dependent, options.delivery);
  if (queued.ok) return true;
  const current = queued.current;
  return (
    options.retry === true &&
    current?.status === StepStatus.QUEUED &&
    current.attempt === 1 &&
    (current.releasedBy === undefined ||
      options.delivery === undefined ||
      current.releasedBy === options.delivery)
  );
}

export async function dispatchFirstAttempts(
  deps: Deps,
  run: RunRef,
  plan: JobPlan,
  steps: readonly string[],
): Promise<void> {
  if (steps.length === 0) return;
  const items: DispatchItem[] = steps.map((step) => ({ step, attempt: 1 }));
  await deps.dispatcher.dispatch(run, plan, items);
}

/**
 * A step failed for good: every step downstream of it can never run. Mark each
 * WAITING descendant SKIPPED (one conditional write each; a descendant already
 * skipped through another failed branch is not counted twice). Returns the count.
 */
export async function skipDownstream(
  deps: Deps,
  runId: string,
  plan: JobPlan,
  failedStep: string,
  expiresAt: RunExpiry,
): Promise<number> {
  const because = `upstream step '${failedStep}' failed`;
  let skipped = 0;
  await forEachLimit(descendantsOf(plan, failedStep), PARALLEL_WRITES, async (key) => {
    if ((await deps.store.markSkipped(runId, key, because)).ok) skipped++;
  });
  if (skipped > 0) {
    // The event before the count: the count can end the run, and its events come first.
    await deps.store.appendEvent(
      {
        runId,
        type: EventType.STEP_SKIPPED,
        step: failedStep,
        message: `${skipped} downstream step(s) skipped because '${failedStep}' failed`,
        data: { count: skipped },
      },
      expiresAt,
    );
    await deps.store.addRunCounts(runId, { skipped });
  }
  return skipped;
}
