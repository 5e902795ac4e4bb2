import type { SerializedError } from '../errors.ts';
import type { StepStatus } from '../status.ts';
import type { StepResult, Transition } from './runStore.ts';
import { type StepTransition, StepTransitions } from './stepTransitions.ts';
import type { MapExpansion, StepRecord } from './types.ts';

/**
 * The RunStore's step-transition methods, each one declared transition with its arguments
 * (lib/store/stepTransitions.ts). Shared by the DynamoDB and the in-memory stores, so the
 * two map a method to its transition the same way; each applies a transition its own way.
 */
export abstract class StepTransitionMethods {
  /** Apply one declared step transition to the step item: one conditional write. */
  protected abstract transitionStep<A>(
    runId: string,
    key: string,
    transition: StepTransition<A>,
    args: A,
  ): Promise<Transition<StepRecord>>;

  claimStep(
    runId: string,
    key: string,
    attempt: number,
    options: { readonly taskArn?: string; readonly fromWaiting?: boolean } = {},
  ): Promise<Transition<StepRecord>> {
    const { taskArn, fromWaiting = false } = options;
    return this.transitionStep(runId, key, StepTransitions.claim, {
      attempt,
      fromWaiting,
      ...(taskArn ? { taskArn } : {}),
    });
  }
  recordSuccess(
    runId: string,
    key: string,
    attempt: number,
    result: StepResult,
    durationMs: number,
  ): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.succeed, { attempt, result, durationMs });
  }
  noteSlotWait(runId: string, key: string, attempt: number, since?: number): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.slotWait, {
      attempt,
      ...(since === undefined ? {} : { since }),
    });
  }
  heartbeat(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.heartbeat, { attempt });
  }
  countRelaunch(runId: string, key: string, attempt: number): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.relaunch, { attempt });
  }
  recordFailure(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
  ): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.fail, { attempt, error });
  }
  scheduleRetry(
    runId: string,
    key: string,
    attempt: number,
    error: SerializedError,
    options: { promote?: boolean } = {},
  ): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.retry, {
      attempt,
      error,
      promote: options.promote === true,
    });
  }
  markQueued(runId: string, key: string, releasedBy?: string): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.queue, releasedBy ? { releasedBy } : {});
  }
  markSkipped(runId: string, key: string, because: string): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.skip, { because });
  }
  markStepCanceled(
    runId: string,
    key: string,
    from: readonly StepStatus[],
    because: string,
    attempt?: number,
  ): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.cancel, {
      from,
      because,
      ...(attempt === undefined ? {} : { attempt }),
    });
  }
  beginExpansion(
    runId: string,
    key: string,
    map: MapExpansion,
    pending: number,
  ): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.expand, { map, pending });
  }
  recordExpansion(runId: string, key: string, map: MapExpansion): Promise<Transition<StepRecord>> {
    return this.transitionStep(runId, key, StepTransitions.expansionProgress, { map });
  }
}
