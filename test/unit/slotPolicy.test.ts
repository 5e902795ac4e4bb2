import { describe, expect, it } from 'vitest';
import { decideSlot, MAX_WAIT_SECONDS } from '../../lib/limits/slotPolicy.ts';
import type { KeySlots, SlotLease, SlotWaiter } from '../../lib/store/slotStore.ts';

const now = 1_000_000;
const key = 'api';
const lease = (slot: number, until = now + 60_000): SlotLease => ({ key, slot, holder: `h${slot}`, until });
const waiter = (holder: string, since: number, until = now + 10_000): SlotWaiter => ({
  key,
  holder,
  since,
  until,
});
const slots = (...leases: SlotLease[]): KeySlots => ({ leases });
const middle = () => 0.5;

describe('deciding who gets a slot', () => {
  it('takes the lowest free slot when nobody waits', () => {
    expect(decideSlot(slots(lease(0)), [], { limit: 3, holder: 'me', now })).toEqual({
      take: true,
      slot: 1,
      limit: 3,
    });
  });

  it('waits when every slot is held, and counts an expired lease as free', () => {
    const full = slots(lease(0), lease(1), lease(2));
    expect(decideSlot(full, [], { limit: 3, holder: 'me', now }, middle).take).toBe(false);
    const oneExpired = slots(lease(0), lease(1, now), lease(2));
    expect(decideSlot(oneExpired, [], { limit: 3, holder: 'me', now })).toMatchObject({
      take: true,
      slot: 1,
    });
  });

  it('lets the oldest waiters take free slots first (roughly FIFO), and a newcomer only after them', () => {
    const read = slots(lease(0), lease(1));
    const line = [waiter('first', now - 3_000), waiter('second', now - 2_000)];
    expect(decideSlot(read, line, { limit: 3, holder: 'first', waitingSince: now - 3_000, now }).take).toBe(
      true,
    );
    expect(decideSlot(read, line, { limit: 3, holder: 'second', waitingSince: now - 2_000, now }).take).toBe(
      false,
    );
    expect(decideSlot(read, line, { limit: 3, holder: 'newcomer', now }).take).toBe(false);
    // A waiter whose time ran out (its run canceled, its worker dead) holds no one back.
    const gone = [waiter('first', now - 3_000, now - 1)];
    expect(decideSlot(read, gone, { limit: 3, holder: 'newcomer', now }).take).toBe(true);
  });

  it('uses the key’s override over the declared limit, and counts holders above a lowered limit', () => {
    const overridden: KeySlots = { limit: { key, declared: 3, override: 1 }, leases: [lease(0)] };
    expect(decideSlot(overridden, [], { limit: 3, holder: 'me', now }, middle)).toMatchObject({
      take: false,
      limit: 1,
    });
    // Lowered from 3 to 2 while slots 1 and 2 were held: nothing is free until one ends.
    const lowered: KeySlots = { limit: { key, override: 2 }, leases: [lease(1), lease(2)] };
    expect(decideSlot(lowered, [], { limit: 3, holder: 'me', now }, middle).take).toBe(false);
  });

  it('sends waiters further back in line away for longer, up to MAX_WAIT_SECONDS', () => {
    const full = slots(lease(0), lease(1), lease(2));
    const line = Array.from({ length: 40 }, (_, i) => waiter(`w${i}`, now - 100_000 + i));
    const delay = (holder: string, since: number) => {
      const decision = decideSlot(full, line, { limit: 3, holder, waitingSince: since, now }, () => 1);
      return decision.take ? 0 : decision.delaySeconds;
    };
    const head = delay('w0', now - 100_000);
    const tail = delay('w39', now - 100_000 + 39);
    expect(head).toBe(1);
    expect(tail).toBe(MAX_WAIT_SECONDS);
    expect(delay('w7', now - 100_000 + 7)).toBeGreaterThan(head);
  });
});
