import { InvalidConcurrencyLimitError } from '../errors.ts';
import { CONCURRENCY_KEY, MAX_CONCURRENCY_LIMIT, RUN_KEY_PREFIX } from '../job/concurrency.ts';
import type { SlotStore } from '../store/slotStore.ts';

/** Waiters listed per key (the head of the line). */
const WAITERS_SHOWN = 1_000;

/** One concurrency key as `lambdag concurrency` shows it: its limit, who holds its slots, who waits. */
export interface ConcurrencyKeyView {
  readonly key: string;
  /** `runs`: a job's maxConcurrentRuns (`RUNS#<job>[#<key>]`, holders are run ids); `steps`: steps' `concurrency`. */
  readonly kind: 'runs' | 'steps';
  /** The limit in force: the override, else what its steps declared. */
  readonly limit?: number;
  readonly declared?: number;
  readonly override?: number;
  /** Live leases, by slot. */
  readonly holders: readonly { readonly holder: string; readonly slot: number; readonly until: string }[];
  /** Live waiters, oldest first. */
  readonly waiters: readonly { readonly holder: string; readonly since: string }[];
}

/** Keyed concurrency limits for operators: list keys, change a limit without a deploy. */
export class ConcurrencyInspector {
  constructor(
    private readonly slots: SlotStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every key with its limit, holders and waiters: one index query, then two queries per key. */
  async keys(): Promise<ConcurrencyKeyView[]> {
    const limits = await this.slots.listKeys();
    return Promise.all(limits.map((limit) => this.key(limit.key)));
  }

  async key(key: string): Promise<ConcurrencyKeyView> {
    const now = this.now();
    const [{ limit, leases }, waiters] = await Promise.all([
      this.slots.readSlots(key),
      this.slots.readWaiters(key, WAITERS_SHOWN),
    ]);
    const inForce = limit?.override ?? limit?.declared;
    return {
      key,
      kind: key.startsWith(RUN_KEY_PREFIX) ? 'runs' : 'steps',
      ...(inForce === undefined ? {} : { limit: inForce }),
      ...(limit?.declared === undefined ? {} : { declared: limit.declared }),
      ...(limit?.override === undefined ? {} : { override: limit.override }),
      holders: leases
        .filter((lease) => lease.until > now)
        .map((lease) => ({
          holder: lease.holder,
          slot: lease.slot,
          until: new Date(lease.until).toISOString(),
        })),
      waiters: waiters
        .filter((waiter) => waiter.until > now)
        .map((waiter) => ({ holder: waiter.holder, since: new Date(waiter.since).toISOString() })),
    };
  }

  /**
   * Set a key's limit, in force from the next slot any attempt asks for (no deploy). Lowered,
   * attempts already holding slots finish; raised, waiters take the new slots as they poll.
   */
  async setLimit(key: string, limit: number): Promise<void> {
    if (!CONCURRENCY_KEY.test(key)) {
      throw new InvalidConcurrencyLimitError(key, 'a key is 1-200 characters without whitespace');
    }
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_CONCURRENCY_LIMIT)) {
      throw new InvalidConcurrencyLimitError(
        key,
        `the limit must be a whole number from 1 to ${MAX_CONCURRENCY_LIMIT}, got ${limit}`,
      );
    }
    await this.slots.setLimit(key, limit);
  }
}
