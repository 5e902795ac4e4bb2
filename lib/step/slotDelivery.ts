import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import type { SQSRecord } from 'aws-lambda';
import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import { concurrencyOf } from '../job/concurrency.ts';
import { isMapStep, type JobPlan, stepSpecOf } from '../job/dag.ts';
import type { SlotGate, SlotRequest } from '../limits/slotGate.ts';
import type { SlotLease } from '../store/slotStore.ts';
import { slotWaitSinceOf } from '../store/stepTransitions.ts';
import { attemptTimeoutMs } from './attemptWatch.ts';
import type { StepMessage } from './messages.ts';
import { waitForSlot, waitingSinceOf } from './sqsRedelivery.ts';

/**
 * A waiting attempt notes it is alive on its step item when a multiple of this has passed
 * since it began to wait: with waits of at most MAX_WAIT_SECONDS between asks, its step
 * is never untouched for long enough to look lost (LAMBDAG_QUEUED_LOST_SECONDS, 30 s at
 * least).
 */
const ALIVE_NOTE_MS = 5_000;

/** A lease lasts an attempt's time; with no limit known (no timeout, no deadline), Lambda's longest. */
const DEFAULT_ATTEMPT_MS = 15 * 60_000;

/** What the worker takes keyed concurrency slots with: the gate, and the plans its runner caches. */
export interface AttemptSlots {
  readonly gate: SlotGate;
  readonly planOf: (message: StepMessage) => JobPlan;
}

/** The attempt stopped waiting for a slot of `key`: its step is no longer at this attempt. */
export interface StaleWhileWaiting {
  readonly staleWhileWaiting: string;
}

/** The record's attempt went back to its queue to wait for a slot of `key`. */
export interface WaitingForSlot {
  readonly waitingForSlot: string;
  readonly delaySeconds: number;
}

/**
 * Run `attempt` holding a slot of the step's concurrency key (docs/concurrency.md), and give
 * the slot back however it ends; a step without a limit just runs. With no free slot the
 * attempt does not start: the record goes back to its queue after the gate's backoff as a
 * new message (waiting spends neither a retry nor a receive), its first wait written as a
 * STEP_WAITING_FOR_SLOT event. A worker that dies holding a slot loses it at the lease's end.
 */
export async function runHoldingSlot<T>(
  deps: Deps,
  slots: AttemptSlots,
  record: SQSRecord,
  message: StepMessage,
  deadline: number | undefined,
  attempt: () => Promise<T>,
): Promise<T | WaitingForSlot | StaleWhileWaiting> {
  const request = slotRequestOf(slots.planOf(message), message, deadline, waitingSinceOf(record));
  if (!request) return attempt();
  const grant = await slots.gate.acquire(request);
  if (!grant.held) {
    let { firstWait, since } = grant;
    if (firstWait || aliveNoteDue(record, since)) {
      // Reconciliation re-sends a step QUEUED and untouched for long: this one is alive.
      const noted = await deps.store.noteSlotWait(
        message.runId,
        message.step,
        message.attempt,
        firstWait ? since : undefined,
      );
      if (!noted.ok) {
        // Canceled, run by another copy, or over: nothing to wait for.
        await slots.gate.forget(request.key, request.holder, since);
        return { staleWhileWaiting: request.key };
      }
      // A copy of a message whose attempt already waits (its waiter item was past the part
      // of the line the gate reads): the wait and its event are the attempt's first copy's.
      const began = slotWaitSinceOf(noted.item, message.attempt);
      if (firstWait && began !== undefined && began !== since) {
        await slots.gate.forget(request.key, request.holder, since);
        firstWait = false;
        since = began;
      }
    }
    if (firstWait) {
      await deps.store.appendEvent(
        {
          runId: message.runId,
          type: EventType.STEP_WAITING_FOR_SLOT,
          step: message.step,
          attempt: message.attempt,
          message: `every slot of concurrency key '${request.key}' is taken (limit ${grant.limit}, ${grant.ahead} waiting ahead); waiting`,
          data: { key: request.key, limit: grant.limit, ahead: grant.ahead },
        },
        message.expiresAt,
      );
    }
    await waitForSlot(deps, record, message, grant.delaySeconds, since);
    return { waitingForSlot: request.key, delaySeconds: grant.delaySeconds };
  }
  let runsElsewhere = false;
  try {
    return await attempt();
  } catch (error) {
    // A copy of an attempt still running in another worker shares that worker's lease: the
    // worker gives it back when its body ends, and a release here would free a slot in use.
    runsElsewhere = grant.shared && error instanceof IdempotencyAlreadyInProgressError;
    throw error;
  } finally {
    if (!runsElsewhere) await releaseSlot(deps, slots.gate, grant.lease);
  }
}

/** Give the attempt's slot back; a failure leaves it to its lease's end, not the attempt's outcome. */
async function releaseSlot(deps: Deps, gate: SlotGate, lease: SlotLease): Promise<void> {
  await gate.release(lease).catch((error: unknown) => {
    deps.log.warn('could not give a concurrency slot back; it frees when its lease ends', {
      key: lease.key,
      holder: lease.holder,
      error,
    });
  });
}

/** The attempt's ask for a slot, when its step has a keyed limit (a map step's own message has none). */
export function slotRequestOf(
  plan: JobPlan,
  message: StepMessage,
  deadline: number | undefined,
  waitingSince: number | undefined,
): SlotRequest | undefined {
  if (isMapStep(plan, message.step)) return undefined;
  const spec = stepSpecOf(plan, message.step);
  const concurrency = spec && concurrencyOf(spec.options);
  if (!concurrency) return undefined;
  return {
    ...concurrency,
    holder: `${message.runId}#${message.step}#${message.attempt}`,
    attemptMs: attemptTimeoutMs(spec.options.timeoutSeconds, deadline) ?? DEFAULT_ATTEMPT_MS,
    ...(waitingSince === undefined ? {} : { waitingSince }),
  };
}

/** Did a multiple of ALIVE_NOTE_MS of waiting pass between the record's previous ask (when it was sent) and now? */
function aliveNoteDue(record: SQSRecord, since: number, now = Date.now()): boolean {
  const sentAt = Number(record.attributes.SentTimestamp);
  if (!Number.isFinite(sentAt)) return true;
  return Math.floor((now - since) / ALIVE_NOTE_MS) > Math.floor((sentAt - since) / ALIVE_NOTE_MS);
}
