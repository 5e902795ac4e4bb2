import type { Transition } from './runStore.ts';
import type { KeyLimit, KeySlots, SlotLease, SlotStore, SlotWaiter } from './slotStore.ts';

/** The slot store in memory, for the engine's unit tests: DynamoSlotStore's conditions, no TTL sweep. */
export class InMemorySlotStore implements SlotStore {
  private readonly limits = new Map<string, KeyLimit>();
  /** By key, then slot. */
  private readonly leases = new Map<string, Map<number, SlotLease>>();
  /** By key, then `since#holder` (the sort key's order). */
  private readonly waiters = new Map<string, Map<string, SlotWaiter>>();

  async readSlots(key: string): Promise<KeySlots> {
    const leases = [...(this.leases.get(key)?.values() ?? [])].sort((a, b) => a.slot - b.slot);
    const limit = this.limits.get(key);
    return limit ? { limit: { ...limit }, leases } : { leases };
  }

  async readWaiters(key: string, max: number): Promise<SlotWaiter[]> {
    const waiting = [...(this.waiters.get(key)?.entries() ?? [])];
    waiting.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return waiting.slice(0, max).map(([, waiter]) => waiter);
  }

  async takeSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>> {
    const slots = mapOf(this.leases, lease.key);
    const current = slots.get(lease.slot);
    if (current && current.until > now) return { ok: false };
    slots.set(lease.slot, { ...lease });
    return { ok: true, item: lease };
  }

  async renewSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>> {
    const slots = this.leases.get(lease.key);
    const current = slots?.get(lease.slot);
    if (!slots || current?.holder !== lease.holder || current.until <= now) return { ok: false };
    slots.set(lease.slot, { ...lease });
    return { ok: true, item: lease };
  }

  async releaseSlot(key: string, slot: number, holder: string): Promise<boolean> {
    const slots = this.leases.get(key);
    if (slots?.get(slot)?.holder !== holder) return false;
    slots.delete(slot);
    return true;
  }

  async putWaiter(waiter: SlotWaiter): Promise<void> {
    mapOf(this.waiters, waiter.key).set(waiterKey(waiter.since, waiter.holder), { ...waiter });
  }

  async deleteWaiter(key: string, holder: string, since: number): Promise<void> {
    this.waiters.get(key)?.delete(waiterKey(since, holder));
  }

  async declareKey(key: string, declared: number): Promise<void> {
    const limit = this.limits.get(key);
    if (limit?.declared === undefined) this.limits.set(key, { ...limit, key, declared });
  }

  async setLimit(key: string, limit: number): Promise<void> {
    this.limits.set(key, { ...this.limits.get(key), key, override: limit });
  }

  async listKeys(): Promise<KeyLimit[]> {
    return [...this.limits.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

const waiterKey = (since: number, holder: string) => `${String(since).padStart(13, '0')}#${holder}`;

function mapOf<K, V>(maps: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let map = maps.get(key);
  if (!map) {
    map = new Map();
    maps.set(key, map);
  }
  return map;
}
