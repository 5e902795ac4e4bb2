import { backoffDelay, Jitter } from '../backoff.ts';
import type { KeySlots, SlotWaiter } from '../store/slotStore.ts';

/**
 * Who gets a slot of a keyed concurrency limit, pure: given a read of the key (its limit
 * item, its slots, the head of its waiters) and the attempt asking, take a slot (which) or
 * wait (how long). lib/limits/slotGate.ts reads and writes; this only decides.
 */

/** A waiting attempt comes back after this, at most (the ceiling of its jittered backoff). */
export const MAX_WAIT_SECONDS = 16;
/** The first rank of waiters comes back within this (half jitter: between half of it and it). */
const WAIT_BASE_SECONDS = 1;
/** A waiter not seen again this long after it was due is gone (its run canceled, its worker dead). */
export const WAITER_GRACE_MS = 10_000;

export interface SlotAsk {
  /** The limit the step declares; the key's override, when set, wins. */
  readonly limit: number;
  readonly holder: string;
  /** When this attempt began to wait (epoch ms); undefined on its first ask. */
  readonly waitingSince?: number;
  readonly now: number;
}

export type SlotDecision =
  | { readonly take: true; readonly slot: number; readonly limit: number }
  | { readonly take: false; readonly delaySeconds: number; readonly limit: number; readonly ahead: number };

/** The limit in force: the key's override, else what the asking step declares. */
export const limitOf = (slots: KeySlots, declared: number) => slots.limit?.override ?? declared;

/**
 * Decide one ask. Slots are numbered 0 .. limit-1, so a key never has more than `limit`
 * leases, and a lease past its `until` is free. Roughly FIFO: with `free` slots, only the
 * `free` oldest live waiters may take one, and a newcomer only when fewer waiters than
 * that are live. The ones behind wait longer the further back they are (about one backoff
 * step per `limit` waiters ahead), so the head polls often and the tail rarely.
 */
export function decideSlot(
  slots: KeySlots,
  waiters: readonly SlotWaiter[],
  ask: SlotAsk,
  random: () => number = Math.random,
): SlotDecision {
  const limit = limitOf(slots, ask.limit);
  const held = new Set(slots.leases.filter((lease) => lease.until > ask.now).map((lease) => lease.slot));
  const freeSlots = Array.from({ length: limit }, (_, slot) => slot).filter((slot) => !held.has(slot));
  // After a limit is lowered, holders above it still count until they end.
  const free = Math.max(0, limit - held.size);
  const ahead = waitersAhead(waiters, ask);
  if (free > 0 && ahead < free && freeSlots.length > 0) {
    // Takers that ask at once pick different slots by their place in line.
    return { take: true, slot: freeSlots[ahead % freeSlots.length] as number, limit };
  }
  const rounds = Math.floor(Math.max(0, ahead - free) / Math.max(1, limit));
  const seconds = backoffDelay(
    1 + rounds,
    { base: WAIT_BASE_SECONDS, cap: MAX_WAIT_SECONDS, jitter: Jitter.HALF },
    random,
  );
  return { take: false, delaySeconds: Math.max(1, Math.round(seconds)), limit, ahead };
}

/**
 * How many live waiters are ahead of this attempt: its place among them when it is one
 * (by when it began to wait), else all the live ones read (a newcomer goes last).
 */
function waitersAhead(waiters: readonly SlotWaiter[], ask: SlotAsk): number {
  const live = waiters.filter((waiter) => waiter.until > ask.now && waiter.holder !== ask.holder);
  if (ask.waitingSince === undefined) return live.length;
  const since = ask.waitingSince;
  return live.filter(
    (waiter) => waiter.since < since || (waiter.since === since && waiter.holder < ask.holder),
  ).length;
}
