import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import { eventsOf, runToEnd, type StackHandle, stepsOf, until, useStack } from '../support/stack.ts';

/** The noisy neighbour: one run of this many steps, all queued at once. */
const BIG = 2_000;
/** Small runs started behind it, each a chain of 5 steps (5 trips through the queue). */
const SMALL_RUNS = 10;

interface RunTimes {
  readonly runId: string;
  /** When its first step started and its last step ended (ISO times, comparable as strings). */
  readonly firstStart: string;
  readonly lastEnd: string;
  /** Its steps' end times, sorted. */
  readonly ends: readonly string[];
}

async function timesOf(handle: StackHandle, runId: string): Promise<RunTimes> {
  const run = await handle.client.waitForRun(runId);
  expect({ runId, status: run.status }).toEqual({ runId, status: 'SUCCEEDED' });
  const steps = [...(await stepsOf(handle, runId)).values()];
  const ends = steps.map((s) => s.finishedAt ?? '').sort();
  const starts = steps.map((s) => s.startedAt ?? '').sort();
  return { runId, firstStart: starts[0] ?? '', lastEnd: ends.at(-1) ?? '', ends };
}

/** Start `job`'s big run, and once its steps are all queued (RUNNING), the small runs. */
async function bigThenSmall(
  handle: StackHandle,
  job: string,
  extra: { priority?: number } = {},
): Promise<{ big: RunTimes; small: RunTimes[]; urgent?: RunTimes }> {
  const big = await handle.client.startRun({ job, input: { n: BIG } });
  await until(
    'the big run to have queued its steps',
    async () =>
      (await handle.client.getRun(big.runId).catch(() => undefined))?.status === 'RUNNING' ? true : undefined,
    60_000,
  );
  const smallChain = { n: 5, chain: true };
  const [small, urgent] = await Promise.all([
    Promise.all(Array.from({ length: SMALL_RUNS }, () => handle.client.startRun({ job, input: smallChain }))),
    extra.priority === undefined
      ? undefined
      : handle.client.startRun({ job, input: smallChain, priority: extra.priority }),
  ]);
  return {
    big: await timesOf(handle, big.runId),
    small: await Promise.all(small.map((run) => timesOf(handle, run.runId))),
    ...(urgent ? { urgent: await timesOf(handle, urgent.runId) } : {}),
  };
}

/** How many of the big run's steps had ended by `at`. */
const endedBy = (big: RunTimes, at: string) => big.ends.filter((end) => end <= at).length;

describe('fair queues: one tenant per run, the default fairness key', () => {
  const handle = useStack();

  it(`ten 5-step runs started behind a run of ${BIG} steps all finish before it`, async () => {
    const { big, small } = await bigThenSmall(handle, 'tenant-load');
    // By the order of end times: no small run's last step ended after the big run's.
    expect(small.filter((run) => run.lastEnd >= big.lastEnd).map((run) => run.runId)).toEqual([]);
    // And they did not wait for its backlog: each began before half of it had run.
    for (const run of small) expect(endedBy(big, run.firstStart)).toBeLessThan(BIG / 2);
  }, 180_000);

  it("sends every step message and every copy of one in its run's group (retries, slot waits)", async () => {
    const queues = handle.deps.config.queues;
    const before = Object.values(queues).map((url) => handle.stack.fairQueues?.sends(url).ungrouped);
    const run = await runToEnd(handle, 'tenant-load', { n: 4, retryOnce: true, limitKey: 'fair-copies' });
    expect(run.status).toBe('SUCCEEDED');
    const events = await eventsOf(handle, run.runId);
    // The paths that send a step's message again ran: a retry, and attempts sent back to wait.
    expect(events.some((e) => e.type === EventType.STEP_RETRY)).toBe(true);
    expect(events.some((e) => e.type === EventType.STEP_WAITING_FOR_SLOT)).toBe(true);
    const after = Object.values(queues).map((url) => handle.stack.fairQueues?.sends(url).ungrouped);
    expect(after).toEqual(before);
    expect(before.every((count) => count === 0)).toBe(true);
  }, 120_000);
});

describe('one tenant for every run (a constant fairness key), and priorities', () => {
  const handle = useStack();

  it(`the small runs wait behind the ${BIG}-step backlog; a priority 7 run started with them overtakes it`, async () => {
    const { big, small, urgent } = await bigThenSmall(handle, 'shared-load', { priority: 7 });
    // Served in order: no small run's first step started before 90% of the big run had ended.
    for (const run of small) expect(endedBy(big, run.firstStart)).toBeGreaterThan(BIG * 0.9);
    // The urgent run's steps went to the high queue, with its own pollers: it finished first.
    expect((urgent?.lastEnd ?? big.lastEnd) < big.lastEnd).toBe(true);
    expect(endedBy(big, urgent?.firstStart ?? '')).toBeLessThan(BIG / 2);
    for (const run of small) expect(run.lastEnd > (urgent?.lastEnd ?? '')).toBe(true);
  }, 180_000);
});
