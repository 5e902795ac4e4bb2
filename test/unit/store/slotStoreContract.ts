import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SlotStore } from '../../../lib/store/slotStore.ts';

/**
 * What every SlotStore does, run on each implementation (in memory in test/unit/store, on
 * DynamoDB's emulator in test/integration/concurrency.test.ts). Each test uses keys of its own.
 */
export function slotStoreContract(storeOf: () => SlotStore): void {
  const newKey = () => `contract-${randomUUID()}`;
  const now = 1_800_000_000_000;

  describe('slots', () => {
    it('are taken once: a held slot refuses another holder until its lease ends', async () => {
      const store = storeOf();
      const key = newKey();
      const lease = { key, slot: 0, holder: 'run#a#1', until: now + 1_000 };
      expect(await store.takeSlot(lease, now)).toEqual({ ok: true, item: lease });
      expect((await store.takeSlot({ ...lease, holder: 'run#b#1' }, now + 999)).ok).toBe(false);
      // Past its `until`, the lease no longer holds the slot.
      expect(
        (await store.takeSlot({ ...lease, holder: 'run#b#1', until: now + 5_000 }, now + 1_000)).ok,
      ).toBe(true);
      expect((await store.readSlots(key)).leases).toEqual([
        { key, slot: 0, holder: 'run#b#1', until: now + 5_000 },
      ]);
    });

    it('are given back only by their holder', async () => {
      const store = storeOf();
      const key = newKey();
      await store.takeSlot({ key, slot: 1, holder: 'run#a#1', until: now + 1_000 }, now);
      expect(await store.releaseSlot(key, 1, 'run#b#1')).toBe(false);
      expect(await store.releaseSlot(key, 1, 'run#a#1')).toBe(true);
      expect(await store.releaseSlot(key, 1, 'run#a#1')).toBe(false);
      expect((await store.readSlots(key)).leases).toEqual([]);
    });

    it('are renewed only by their holder and only while the lease lasts (a run holding a slot for hours)', async () => {
      const store = storeOf();
      const key = newKey();
      const lease = { key, slot: 0, holder: 'run-a', until: now + 1_000 };
      await store.takeSlot(lease, now);
      expect((await store.renewSlot({ ...lease, holder: 'run-b', until: now + 9_000 }, now + 500)).ok).toBe(
        false,
      );
      const renewed = { ...lease, until: now + 9_000 };
      expect(await store.renewSlot(renewed, now + 500)).toEqual({ ok: true, item: renewed });
      // Renewed, the lease holds the slot past its first `until`.
      expect((await store.takeSlot({ ...lease, holder: 'run-b', until: now + 20_000 }, now + 5_000)).ok).toBe(
        false,
      );
      expect((await store.readSlots(key)).leases).toEqual([renewed]);
      // An ended lease is not brought back: the slot may be another's by now.
      expect((await store.renewSlot({ ...lease, until: now + 30_000 }, now + 9_000)).ok).toBe(false);
    });

    it('are read in slot order, with the key’s limit item and without its waiters', async () => {
      const store = storeOf();
      const key = newKey();
      await store.takeSlot({ key, slot: 2, holder: 'h2', until: now + 1 }, now);
      await store.takeSlot({ key, slot: 0, holder: 'h0', until: now + 1 }, now);
      await store.putWaiter({ key, holder: 'w', since: now, until: now + 1 });
      await store.declareKey(key, 3);
      const read = await store.readSlots(key);
      expect(read.leases.map((lease) => lease.holder)).toEqual(['h0', 'h2']);
      expect(read.limit).toEqual({ key, declared: 3 });
    });
  });

  describe('waiters', () => {
    it('are read oldest first, at most `max`, and deleted by who and since when', async () => {
      const store = storeOf();
      const key = newKey();
      await store.putWaiter({ key, holder: 'late', since: now + 20, until: now + 100 });
      await store.putWaiter({ key, holder: 'early', since: now + 10, until: now + 100 });
      await store.putWaiter({ key, holder: 'middle', since: now + 15, until: now + 100 });
      // A later put of the same waiter moves its `until`, not its place.
      await store.putWaiter({ key, holder: 'early', since: now + 10, until: now + 500 });
      expect(await store.readWaiters(key, 2)).toEqual([
        { key, holder: 'early', since: now + 10, until: now + 500 },
        { key, holder: 'middle', since: now + 15, until: now + 100 },
      ]);
      await store.deleteWaiter(key, 'early', now + 10);
      await store.deleteWaiter(key, 'early', now + 10);
      expect((await store.readWaiters(key, 10)).map((w) => w.holder)).toEqual(['middle', 'late']);
    });
  });

  describe('limits', () => {
    it('keep the first declared limit, take an override over it, and list the key', async () => {
      const store = storeOf();
      const key = newKey();
      await store.declareKey(key, 3);
      await store.declareKey(key, 5);
      expect((await store.readSlots(key)).limit).toEqual({ key, declared: 3 });
      await store.setLimit(key, 1);
      expect((await store.readSlots(key)).limit).toEqual({ key, declared: 3, override: 1 });
      const other = newKey();
      await store.setLimit(other, 7);
      const listed = (await store.listKeys()).filter((limit) => limit.key === key || limit.key === other);
      expect(listed).toEqual(
        [
          { key, declared: 3, override: 1 },
          { key: other, override: 7 },
        ].sort((a, b) => (a.key < b.key ? -1 : 1)),
      );
    });
  });
}
