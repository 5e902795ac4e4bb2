import type { Transition } from './runStore.ts';

/**
 * Keyed concurrency limits' items (docs/concurrency.md): per key, a limit item, one slot item
 * per lease held (slot 0 .. limit-1, so a key never has more than `limit` holders) and one
 * waiter item per attempt waiting for a slot. The rules that use them (who may take which
 * slot, how long a waiter sleeps) are in lib/limits/; this is storage only. Two
 * implementations: DynamoSlotStore (the runs table, lib/store/dynamoSlotStore.ts) and
 * InMemorySlotStore; one contract suite (test/unit/store/slotStoreContract.ts) runs on both.
 */

/** A slot held by one attempt until `until` (epoch ms); past it the slot is free to take. */
export interface SlotLease {
  readonly key: string;
  readonly slot: number;
  /** The attempt holding it: `runId#step#attempt`. */
  readonly holder: string;
  readonly until: number;
}

/** An attempt waiting for a slot of `key` since `since` (epoch ms); forgotten after `until`. */
export interface SlotWaiter {
  readonly key: string;
  readonly holder: string;
  readonly since: number;
  readonly until: number;
}

/** A key's limit item: the limit its steps declare (first seen) and the one `concurrency set` gave it. */
export interface KeyLimit {
  readonly key: string;
  /** The limit the key's steps declared when it was first used. */
  readonly declared?: number;
  /** Set at run time (`lambdag concurrency set`): wins over what steps declare. */
  readonly override?: number;
}

/** What one read of a key returns: its limit item (if any) and every slot item (live or expired). */
export interface KeySlots {
  readonly limit?: KeyLimit;
  readonly leases: readonly SlotLease[];
}

export interface SlotStore {
  /** The key's limit item and slot items: one Query (the items before its waiters). */
  readSlots(key: string): Promise<KeySlots>;
  /** The key's oldest waiters, at most `max`, oldest first (expired ones included): one Query. */
  readWaiters(key: string, max: number): Promise<SlotWaiter[]>;
  /**
   * Precondition: slot `lease.slot` has no lease, or one whose `until` is at or before `now`.
   * Effect: the slot is `lease`'s. Outcome: taken, or not (held by another).
   */
  takeSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>>;
  /**
   * Precondition: the slot is `lease.holder`'s and its lease has not ended by `now`.
   * Effect: its `until` (and TTL) moved to `lease.until`. Outcome: renewed, or not (the
   * lease ended, and maybe another took the slot).
   */
  renewSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>>;
  /** Precondition: the slot is `holder`'s. Effect: the slot item is deleted. True when it was. */
  releaseSlot(key: string, slot: number, holder: string): Promise<boolean>;
  /** Effect: the waiter item written (a later put of the same waiter moves its `until`). */
  putWaiter(waiter: SlotWaiter): Promise<void>;
  /** Effect: the waiter item deleted (idempotent). */
  deleteWaiter(key: string, holder: string, since: number): Promise<void>;
  /** Effect: the key's limit item created with `declared`, only where none is (its first use). */
  declareKey(key: string, declared: number): Promise<void>;
  /** Effect: the key's override set (its limit item created if need be). */
  setLimit(key: string, limit: number): Promise<void>;
  /** Every key with a limit item, in key order (an index query, never a scan). */
  listKeys(): Promise<KeyLimit[]>;
}
