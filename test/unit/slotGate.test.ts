import { describe, expect, it } from 'vitest';
import { LEASE_MARGIN_MS, SlotGate } from '../../lib/limits/slotGate.ts';
import { InMemorySlotStore } from '../../lib/store/inMemorySlotStore.ts';
import { InjectedThrottlingError } from '../../local/simulation/throttling.ts';
import { MemoryLog } from '../support/engine.ts';

function gateAt(start = 1_000_000) {
  const clock = { now: start };
  const store = new InMemorySlotStore();
  const gate = new SlotGate(store, new MemoryLog(), () => clock.now);
  const ask = (holder: string, waitingSince?: number) =>
    gate.acquire({
      key: 'api',
      limit: 2,
      holder,
      attemptMs: 5_000,
      ...(waitingSince === undefined ? {} : { waitingSince }),
    });
  return { clock, store, gate, ask };
}

describe('the slot gate', () => {
  it('lets `limit` attempts hold slots, makes the next wait, and frees a slot when one gives it back', async () => {
    const { store, gate, ask, clock } = gateAt();
    const a = await ask('a');
    const b = await ask('b');
    const c = await ask('c');
    expect([a.held, b.held, c.held]).toEqual([true, true, false]);
    expect(c.held === false && c.since).toBe(clock.now);
    expect((await store.readWaiters('api', 10)).map((w) => w.holder)).toEqual(['c']);
    expect((await store.readSlots('api')).limit).toEqual({ key: 'api', declared: 2 });

    if (!a.held) throw new Error('a holds a slot');
    await gate.release(a.lease);
    const again = await ask('c', clock.now);
    expect(again.held).toBe(true);
    // Its waiter item went with the wait.
    expect(await store.readWaiters('api', 10)).toEqual([]);
  });

  it('leases a slot for the attempt’s time plus a margin: a holder that never gives it back loses it then', async () => {
    const { clock, ask } = gateAt();
    const a = await ask('a');
    await ask('b');
    expect(a.held && a.lease.until).toBe(clock.now + 5_000 + LEASE_MARGIN_MS);
    clock.now += 5_000 + LEASE_MARGIN_MS - 1;
    expect((await ask('c')).held).toBe(false);
    clock.now += 1;
    const c = await ask('c', 1_000_000 + 5_000 + LEASE_MARGIN_MS - 1);
    expect(c.held && c.lease.slot).toBe(0);
  });

  it('gives a copy of an attempt that holds a slot that slot, not a second one', async () => {
    const { store, gate, ask } = gateAt();
    const first = await ask('a');
    const copy = await ask('a');
    expect(first.held && first.shared).toBe(false);
    // The same lease, marked shared: the copy may find its first holder still running.
    expect(copy).toEqual({ ...first, shared: true });
    expect((await store.readSlots('api')).leases.map((lease) => lease.holder)).toEqual(['a']);
    // The copy gives it back (its worker found the attempt done): nothing is left held.
    if (!copy.held) throw new Error('the copy holds the slot');
    await gate.release(copy.lease);
    expect((await store.readSlots('api')).leases).toEqual([]);
  });

  it('tries again when another attempt takes the chosen slot first', async () => {
    const { store, ask } = gateAt();
    const takeSlot = store.takeSlot.bind(store);
    let raced = false;
    // Between this ask's read and its write, another attempt takes slot 0.
    store.takeSlot = async (lease, now) => {
      if (!raced) {
        raced = true;
        await takeSlot({ ...lease, holder: 'racer' }, now);
      }
      return takeSlot(lease, now);
    };
    const mine = await ask('mine');
    expect(mine.held && mine.lease.slot).toBe(1);
  });
});

describe('a copy of a waiting attempt’s message (a duplicate, a re-send)', () => {
  it('keeps the attempt’s place in line and does not begin a second wait', async () => {
    const { ask, gate, clock, store } = gateAt();
    const a = await ask('a');
    await ask('b');
    const first = await ask('c');
    expect(first.held === false && first.firstWait).toBe(true);
    clock.now += 1_000;
    // The copy carries no wait of its own: the gate finds the attempt's waiter item.
    const copy = await ask('c');
    expect(copy.held === false && [copy.firstWait, copy.since]).toEqual([false, 1_000_000]);
    if (!a.held) throw new Error('a holds a slot');
    await gate.release(a.lease);
    expect((await ask('c')).held).toBe(true);
    // Taking the slot ends the attempt's wait, whichever copy took it.
    expect(await store.readWaiters('api', 10)).toEqual([]);
  });
});

describe('taking a slot after a wait', () => {
  it('keeps the slot it took when its waiter item cannot be deleted (the item ends by its expiry)', async () => {
    const { ask, gate, store, clock } = gateAt();
    const a = await ask('a');
    await ask('b');
    await ask('c');
    if (!a.held) throw new Error('a holds a slot');
    await gate.release(a.lease);
    store.deleteWaiter = async () => {
      throw new InjectedThrottlingError('throttled');
    };
    const c = await ask('c', clock.now);
    expect(c.held).toBe(true);
    expect((await store.readSlots('api')).leases.map((lease) => lease.holder).sort()).toEqual(['b', 'c']);
  });
});

describe('giving a slot back', () => {
  it('tries again in place when the release is throttled, so the slot is not held to its lease’s end', async () => {
    const { ask, gate, store } = gateAt();
    const a = await ask('a');
    if (!a.held) throw new Error('a holds a slot');
    const release = store.releaseSlot.bind(store);
    let refused = 0;
    store.releaseSlot = async (...args) => {
      if (refused++ < 2) throw new InjectedThrottlingError('throttled');
      return release(...args);
    };
    await gate.release(a.lease);
    expect(refused).toBe(3);
    expect((await store.readSlots('api')).leases).toEqual([]);
  });
});
