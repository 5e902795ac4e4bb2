import { randomUUID } from 'node:crypto';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { progressLine, runSummary } from '../../cli/format.ts';
import { ConcurrencyInspector } from '../../lib/client/concurrencyInspector.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { runSlotKey } from '../../lib/job/runLimit.ts';
import { RunStatus } from '../../lib/status.ts';
import type { RunEvent } from '../../lib/store/types.ts';
import { eventsOf, until, useStack } from '../support/stack.ts';

// Canceled and stopped runs wind down fast: workers look for a cancel twice a second. An
// execution takes 6 poll ticks, or 3 asks of a queued run, before it hands the run over.
const handle = useStack({
  functionEnvironment: { LAMBDAG_CANCEL_CHECK_SECONDS: '0.5', LAMBDAG_MAX_POLL_TICKS: '6' },
});

const newKey = () => `runs-${randomUUID()}`;

/** Start a run of `run-limit` (at most one run at a time per key) and its execution. */
const start = (input: { key: string; steps?: number; ms?: number; fail?: boolean }) =>
  handle.client.startRun({ job: 'run-limit', input });

/** The run ended, and its execution too (its last event is written by then). */
async function ended(started: { runId: string; executionArn?: string }) {
  const run = await handle.client.waitForRun(started.runId, { signal: AbortSignal.timeout(90_000) });
  if (started.executionArn) await handle.stack.waitForExecution(started.executionArn);
  return run;
}

const statusOf = async (runId: string) => (await handle.deps.store.getRun(runId))?.status;

/** Wait until the run's item says `status`. */
const reaches = (runId: string, status: RunStatus) =>
  until(`run ${runId} to be ${status}`, async () => ((await statusOf(runId)) === status ? true : undefined));

const atOf = (event: RunEvent | undefined) => Date.parse(event?.at ?? 'NaN');

/** Nothing holds or waits for the key's slot any more. */
async function keyIsFree(key: string) {
  const view = await new ConcurrencyInspector(handle.deps.slots).key(runSlotKey('run-limit', key));
  expect(view).toMatchObject({ kind: 'runs', limit: 1, declared: 1, holders: [], waiters: [] });
}

const ENDS: ReadonlySet<string> = new Set([
  EventType.RUN_SUCCESS,
  EventType.RUN_FAILURE,
  EventType.RUN_CANCELED,
]);

/** `second` was queued, and started (its first step) after `firstRun` ended (its RUN_SUCCESS/FAILURE event). */
async function startedAfter(second: string, firstRun: string) {
  const [before, after] = await Promise.all([eventsOf(handle, firstRun), eventsOf(handle, second)]);
  const end = before.find((e) => ENDS.has(e.type));
  expect(end).toBeDefined();
  expect(after.map((e) => e.type)).toContain(EventType.RUN_QUEUED);
  expect(atOf(after.find((e) => e.type === EventType.STEP_START))).toBeGreaterThanOrEqual(atOf(end));
}

describe('a job with maxConcurrentRuns of 1 per key', () => {
  it('queues the second run while the first runs, and starts it after the first ends', async () => {
    const key = newKey();
    const a = await start({ key, steps: 3, ms: 700 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 2, ms: 50 });
    // QUEUED while the first runs: `lambdag runs` and `lambdag status` show the run item's status.
    await reaches(b.runId, RunStatus.QUEUED);
    expect(await statusOf(a.runId)).toBe(RunStatus.RUNNING);
    const listed = await handle.deps.store.listRuns('run-limit', 50);
    expect(listed.find((run) => run.runId === b.runId)?.status).toBe(RunStatus.QUEUED);
    const shown = await handle.client.reader.runView(b.runId);
    expect(shown.run.status).toBe(RunStatus.QUEUED);
    expect(runSummary(shown.run)).toMatch(
      /QUEUED[\s\S]*maxConcurrentRuns: RUNS#run-limit#\S+ \(limit 1\) · queued \S+ · waiting for a slot/,
    );
    // `lambdag run --wait` says what it waits for.
    expect(progressLine(shown.run, 1_000)).toBe(
      `  queued: waiting for a slot of RUNS#run-limit#${key} · 1.0s`,
    );
    const view = await new ConcurrencyInspector(handle.deps.slots).key(runSlotKey('run-limit', key));
    expect(view?.holders.map((holder) => holder.holder)).toEqual([a.runId]);

    const [runA, runB] = await Promise.all([ended(a), ended(b)]);
    expect([runA.status, runB.status]).toEqual([RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]);
    await startedAfter(b.runId, a.runId);
    // Its time counts from its start, not from its queuing.
    expect(Date.parse(runB.startedAt ?? 'NaN')).toBeGreaterThanOrEqual(Date.parse(runA.finishedAt ?? 'NaN'));
    await keyIsFree(key);
  }, 120_000);

  it('starts queued runs in the order they were queued', async () => {
    const key = newKey();
    const a = await start({ key, steps: 2, ms: 800 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 300 });
    await reaches(b.runId, RunStatus.QUEUED);
    const c = await start({ key, steps: 1, ms: 300 });
    await reaches(c.runId, RunStatus.QUEUED);
    const runs = await Promise.all([a, b, c].map(ended));
    expect(runs.map((run) => run.status)).toEqual(Array(3).fill(RunStatus.SUCCEEDED));
    await startedAfter(b.runId, a.runId);
    await startedAfter(c.runId, b.runId);
    await keyIsFree(key);
  }, 120_000);

  it('never starts a queued run that was canceled, and the runs queued behind it go on', async () => {
    const key = newKey();
    const a = await start({ key, steps: 3, ms: 700 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 50 });
    await reaches(b.runId, RunStatus.QUEUED);
    const c = await start({ key, steps: 1, ms: 50 });
    await reaches(c.runId, RunStatus.QUEUED);

    const canceled = await handle.client.cancelRun(b.runId, { reason: 'not needed' });
    expect(canceled.requested).toBe(true);
    const runB = await ended(b);
    expect(runB.status).toBe(RunStatus.CANCELED);
    // It ended while the first still held the slot: it never had one.
    expect(await statusOf(a.runId)).toBe(RunStatus.RUNNING);

    const [runA, runC] = await Promise.all([ended(a), ended(c)]);
    expect([runA.status, runC.status]).toEqual([RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]);
    const eventsB = await eventsOf(handle, b.runId);
    expect(eventsB.filter((e) => e.type === EventType.STEP_START || e.type === EventType.RUN_START)).toEqual(
      [],
    );
    expect(eventsB.at(-1)?.type).toBe(EventType.RUN_CANCELED);
    await startedAfter(c.runId, a.runId);
    await keyIsFree(key);
  }, 120_000);

  it('frees the slot when the first run fails', async () => {
    const key = newKey();
    const a = await start({ key, steps: 2, ms: 700, fail: true });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 50 });
    await reaches(b.runId, RunStatus.QUEUED);
    const [runA, runB] = await Promise.all([ended(a), ended(b)]);
    expect([runA.status, runB.status]).toEqual([RunStatus.FAILED, RunStatus.SUCCEEDED]);
    await startedAfter(b.runId, a.runId);
    await keyIsFree(key);
  }, 120_000);

  it("frees the slot when the first run's execution is stopped (executionEnded ends the run)", async () => {
    const key = newKey();
    const a = await start({ key, steps: 2, ms: 60_000 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 50 });
    await reaches(b.runId, RunStatus.QUEUED);
    await handle.deps.aws.sfn.send(
      new StopExecutionCommand({ executionArn: a.executionArn, error: 'Operator.Stop', cause: 'test' }),
    );
    const [runA, runB] = await Promise.all([ended(a), ended(b)]);
    expect(runA.status).toBe(RunStatus.FAILED);
    expect(runA.error?.code).toBe('EXECUTION_ABORTED');
    expect(runB.status).toBe(RunStatus.SUCCEEDED);
    await startedAfter(b.runId, a.runId);
    await keyIsFree(key);
  }, 120_000);

  it('ends a queued run whose execution is stopped: it never starts and leaves the line', async () => {
    const key = newKey();
    const a = await start({ key, steps: 2, ms: 1_500 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 50 });
    await reaches(b.runId, RunStatus.QUEUED);
    // Once its StartRun has answered (RUN_QUEUED is its last write): a StartRun still asking
    // when the execution stops can write its waiter item after the run ended (docs/concurrency.md).
    await until('the queued answer', async () =>
      (await eventsOf(handle, b.runId)).some((e) => e.type === EventType.RUN_QUEUED) ? true : undefined,
    );
    await handle.deps.aws.sfn.send(
      new StopExecutionCommand({ executionArn: b.executionArn, error: 'Operator.Stop', cause: 'test' }),
    );
    const runB = await handle.client.waitForRun(b.runId, { signal: AbortSignal.timeout(60_000) });
    expect(runB.status).toBe(RunStatus.FAILED);
    expect(runB.error?.code).toBe('EXECUTION_ABORTED');
    expect(await statusOf(a.runId)).toBe(RunStatus.RUNNING);
    // Its waiter item goes as executionEnded ends it, just after the FAILED status (read
    // raw: an item past its due time would still be there until its TTL, a minute later).
    await until('B to leave the line', async () =>
      (await handle.deps.slots.readWaiters(runSlotKey('run-limit', key), 10)).length === 0 ? true : undefined,
    );
    expect((await ended(a)).status).toBe(RunStatus.SUCCEEDED);
    const eventsB = await eventsOf(handle, b.runId);
    expect(eventsB.filter((e) => e.type === EventType.STEP_START || e.type === EventType.RUN_START)).toEqual(
      [],
    );
    await keyIsFree(key);
  }, 120_000);

  it('hands a run queued for longer than its execution’s history allows to a new execution, keeping its place', async () => {
    const key = newKey();
    const a = await start({ key, steps: 3, ms: 2_000 });
    await reaches(a.runId, RunStatus.RUNNING);
    const b = await start({ key, steps: 1, ms: 50 });
    await reaches(b.runId, RunStatus.QUEUED);
    const [runA, runB] = await Promise.all([ended(a), ended(b)]);
    expect([runA.status, runB.status]).toEqual([RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]);
    const continued = (await eventsOf(handle, b.runId)).filter((e) => e.type === EventType.RUN_CONTINUED);
    expect(continued.length).toBeGreaterThan(0);
    expect(continued[0]?.data).toMatchObject({ generation: 1, asks: 3 });
    expect(runB.executionArn).not.toBe(b.executionArn);
    await startedAfter(b.runId, a.runId);
    await keyIsFree(key);
  }, 120_000);
});
