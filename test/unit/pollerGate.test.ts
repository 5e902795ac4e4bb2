import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PollerGate } from '../../local/pollerGate.ts';

/** A turn and whether it has resolved (and with what) so far. */
function track(turn: Promise<boolean>) {
  const state: { done: boolean; value?: boolean } = { done: false };
  void turn.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

/** A receive held open until `end` is called: one poller listening. */
function listen(gate: PollerGate) {
  let end = () => {};
  const receiving = gate.receive(() => new Promise<void>((resolve) => (end = resolve)));
  return async () => {
    end();
    await receiving;
  };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PollerGate (one long poll on an idle queue)', () => {
  it('lets a poller that just got a full batch, or any poller when nobody listens, receive at once', async () => {
    const gate = new PollerGate();
    const signal = new AbortController().signal;
    await expect(gate.turn(false, signal)).resolves.toBe(true);
    await expect(gate.turn(true, signal)).resolves.toBe(true);
  });

  it('keeps idle pollers asleep while one listens, however long, and wakes one per partial batch', async () => {
    const gate = new PollerGate();
    const signal = new AbortController().signal;
    const stop = listen(gate);
    const a = track(gate.turn(true, signal));
    const b = track(gate.turn(true, signal));
    await vi.advanceTimersByTimeAsync(5_000);
    expect([a.done, b.done]).toEqual([false, false]);

    // The listener got 3 of at most 10 messages: one sleeper takes over the listening.
    gate.received(3, 10);
    await flush();
    expect([a.done, b.done].filter(Boolean)).toHaveLength(1);
    await stop();
  });

  it('wakes every sleeper for a full batch (a backlog to share)', async () => {
    const gate = new PollerGate();
    const signal = new AbortController().signal;
    const stop = listen(gate);
    const sleepers = [
      track(gate.turn(true, signal)),
      track(gate.turn(true, signal)),
      track(gate.turn(true, signal)),
    ];
    await flush();
    gate.received(10, 10);
    await flush();
    expect(sleepers.map((s) => s.value)).toEqual([true, true, true]);
    await stop();
  });

  it('lets a sleeper listen once the listener is done, without being woken', async () => {
    const gate = new PollerGate();
    const signal = new AbortController().signal;
    const stop = listen(gate);
    const a = track(gate.turn(true, signal));
    await flush();
    await stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(a).toEqual({ done: true, value: true });
  });

  it('ends every turn with false when the event source stops', async () => {
    const gate = new PollerGate();
    const abort = new AbortController();
    const stop = listen(gate);
    const a = track(gate.turn(true, abort.signal));
    await flush();
    abort.abort();
    await flush();
    expect(a).toEqual({ done: true, value: false });
    await expect(gate.turn(false, abort.signal)).resolves.toBe(false);
    await stop();
  });
});
