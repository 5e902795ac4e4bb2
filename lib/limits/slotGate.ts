import { withTransientRetries } from '../aws/transient.ts';
import type { Log } from '../log.ts';
import type { SlotLease, SlotStore } from '../store/slotStore.ts';
import { decideSlot, WAITER_GRACE_MS } from './slotPolicy.ts';

/**
 * Takes and gives back the slots of keyed concurrency limits (docs/concurrency.md) for the
 * step worker's attempts: a read of the key (its limit and slots, and the head of its
 * waiters, two Queries in parallel), lib/limits/slotPolicy.ts's decision, and one
 * conditional write to take a slot; one conditional delete to give it back.
 */

/** A lease outlives its attempt's own time by this, so a slow release is not a lost slot. */
export const LEASE_MARGIN_MS = 30_000;
/** Takes that lose a race for a slot (another attempt took it first) before waiting instead. */
const TAKE_TRIES = 3;
/** Tries to give a slot back before leaving it to its lease's end. */
const RELEASE_RETRIES = { tries: 5, baseMs: 100, maxMs: 2_000 } as const;
/** Waiters read per ask beyond the limit: enough to place the head of the line. */
const WAITERS_READ_EXTRA = 16;

/** An attempt's ask: its key and declared limit, and how long its lease must last. */
export interface SlotRequest {
  readonly key: string;
  readonly limit: number;
  /** The attempt: `runId#step#attempt`. */
  readonly holder: string;
  /** When it began waiting (epoch ms), carried by its re-sent message; undefined on its first ask. */
  readonly waitingSince?: number;
  /** The lease's length: the attempt's own time limit (the margin is added here). */
  readonly attemptMs: number;
  /** A waiter asks again after at least this (a queued run's, which grows with its wait). */
  readonly minDelaySeconds?: number;
  /**
   * The holder has no waiter item yet though it gives `waitingSince` (a run's first ask, in
   * line from when it was queued): a take then has no waiter item to delete.
   */
  readonly firstAsk?: boolean;
}

export type SlotGrant =
  | {
      readonly held: true;
      readonly lease: SlotLease;
      /** Another copy of this attempt took the lease, and may be running it still. */
      readonly shared: boolean;
    }
  | {
      readonly held: false;
      readonly since: number;
      /** This attempt had not waited yet: its wait begins (once per wait, not per ask). */
      readonly firstWait: boolean;
      readonly delaySeconds: number;
      readonly limit: number;
      readonly ahead: number;
    };

export class SlotGate {
  constructor(
    private readonly slots: SlotStore,
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  /** Take a slot of the request's key, or say how long to wait (the waiter item written). */
  async acquire(request: SlotRequest): Promise<SlotGrant> {
    const { key, holder } = request;
    for (let tryNumber = 1; ; tryNumber++) {
      const now = this.now();
      const [slots, waiters] = await Promise.all([
        this.slots.readSlots(key),
        this.slots.readWaiters(key, request.limit + WAITERS_READ_EXTRA),
      ]);
      // The key's first use: its limit item, which `lambdag concurrency` lists (once per key).
      if (slots.limit?.declared === undefined) await this.slots.declareKey(key, request.limit);
      // A copy of an attempt that holds a slot (a duplicate delivery, or the redelivery after
      // its worker died) holds that one: a second slot would leave the first to its expiry.
      const mine = slots.leases.find((lease) => lease.holder === holder && lease.until > now);
      if (mine) return { held: true, lease: mine, shared: true };
      // A copy of a waiting attempt's message (a duplicate delivery, or reconciliation's
      // re-send) keeps the attempt's place in line and its one STEP_WAITING_FOR_SLOT.
      const known = waiters.find((waiter) => waiter.holder === holder && waiter.until > now)?.since;
      const waitingSince = request.waitingSince ?? known;
      const decision = decideSlot(slots, waiters, {
        limit: request.limit,
        holder,
        now,
        ...(waitingSince === undefined ? {} : { waitingSince }),
      });
      if (decision.take) {
        const lease = { key, slot: decision.slot, holder, until: now + request.attemptMs + LEASE_MARGIN_MS };
        const taken = await this.slots.takeSlot(lease, now);
        if (taken.ok) {
          if (waitingSince !== undefined && !request.firstAsk) await this.endWait(key, holder, waitingSince);
          return { held: true, lease, shared: false };
        }
        if (tryNumber < TAKE_TRIES) continue;
      }
      const delaySeconds = Math.max(decision.take ? 1 : decision.delaySeconds, request.minDelaySeconds ?? 0);
      const since = waitingSince ?? now;
      await this.slots.putWaiter({ key, holder, since, until: now + delaySeconds * 1000 + WAITER_GRACE_MS });
      return {
        held: false,
        since,
        firstWait: waitingSince === undefined,
        delaySeconds,
        limit: decision.limit,
        ahead: decision.take ? 0 : decision.ahead,
      };
    }
  }

  /**
   * The wait is over: its waiter item goes. A failure here must not lose the slot just
   * taken (the caller would never give it back), and a waiter item left over ends by its
   * own `until`, a few seconds on: logged, not thrown.
   */
  private async endWait(key: string, holder: string, since: number): Promise<void> {
    await this.slots.deleteWaiter(key, holder, since).catch((error: unknown) => {
      this.log.warn('could not delete a waiter item; it ends by its own expiry', { key, holder, error });
    });
  }

  /** The attempt no longer waits (its step moved on): its waiter item goes. */
  async forget(key: string, holder: string, since: number): Promise<void> {
    await this.slots.deleteWaiter(key, holder, since);
  }

  /**
   * Give a slot back. A lease that is no longer this attempt's (it expired and was taken)
   * is logged, not an error: the attempt is over either way.
   */
  async release(lease: SlotLease): Promise<void> {
    // A release refused by throttling would hold the slot to its lease's end (up to an
    // attempt's whole time): it is worth a few tries in place.
    const released = await withTransientRetries(
      () => this.slots.releaseSlot(lease.key, lease.slot, lease.holder),
      RELEASE_RETRIES,
    );
    if (!released) {
      this.log.warn(
        'a concurrency slot was no longer its attempt’s to give back (it expired, or a copy gave it back)',
        {
          key: lease.key,
          slot: lease.slot,
          holder: lease.holder,
        },
      );
    }
  }
}
