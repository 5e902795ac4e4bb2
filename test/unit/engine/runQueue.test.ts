import { describe, expect, it } from 'vitest';
import { EventType } from '../../../lib/eventTypes.ts';
import { defineJob } from '../../../lib/job/defineJob.ts';
import { RUN_LEASE_MS } from '../../../lib/limits/runSlotPolicy.ts';
import { requestCancel } from '../../../lib/run/cancel.ts';
import { finalizeRun } from '../../../lib/run/finalize.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { pollRun } from '../../../lib/run/poll.ts';
import type { PollState } from '../../../lib/run/pollPolicy.ts';
import { isQueuedStart, type QueuedStart } from '../../../lib/run/runQueue.ts';
import { startRun } from '../../../lib/run/start.ts';
import { RunStatus } from '../../../lib/status.ts';
import { StepRunner } from '../../../lib/step/runner.ts';
import { drain, engineDeps, TEST_POLL_OPTIONS } from '../../support/engine.ts';

/** Two steps; at most one run at a time. */
const nightly = defineJob('nightly', { maxConcurrentRuns: 1 }, (job) => {
  const a = job.step('a', () => 1);
  job.step('b', { dependsOn: { a } }, ({ a }) => a + 1);
});

const KEY = 'RUNS#nightly';

async function setUp() {
  const deps = engineDeps([nightly]);
  const start = (runId = newRunId()) => startRun(deps, { job: 'nightly', runId });
  /** The state machine's next ask for a queued run (run.asl.json AskForRunSlot). */
  const askAgain = (queued: QueuedStart) => startRun(deps, { queuedRun: queued.queued });
  const eventTypes = async (runId: string) => (await deps.store.listEvents(runId)).events.map((e) => e.type);
  return { deps, start, askAgain, eventTypes, runner: new StepRunner(deps) };
}

const queued = (answer: unknown): QueuedStart => {
  expect(isQueuedStart(answer as object)).toBe(true);
  return answer as QueuedStart;
};

describe('StartRun of a job with maxConcurrentRuns', () => {
  it('starts a run while a slot is free: it holds the slot, and its lease end goes to PollRun', async () => {
    const { deps, start } = await setUp();
    const state = (await start()) as PollState;
    expect(state.status).toBe(RunStatus.RUNNING);
    const { leases } = await deps.slots.readSlots(KEY);
    expect(leases).toEqual([expect.objectContaining({ slot: 0, holder: state.runId })]);
    expect(state.runSlotUntil).toBe(leases[0]?.until);
    expect(await deps.store.requireRun(state.runId)).toMatchObject({
      runLimit: { key: KEY, limit: 1, slot: 0 },
    });
  });

  it('queues a run over the limit: nothing written or sent, one RUN_QUEUED, and asked again it waits on', async () => {
    const { deps, start, askAgain, eventTypes } = await setUp();
    await start();
    const sent = deps.dispatcher.take().length;
    const runId = newRunId();
    const answer = queued(await start(runId));
    expect(answer).toMatchObject({ runId, status: RunStatus.QUEUED, queued: { job: 'nightly', runId } });
    expect(answer.waitSeconds).toBeGreaterThanOrEqual(1);
    expect(sent).toBe(1);
    expect(deps.dispatcher.sent).toEqual([]);
    const run = await deps.store.requireRun(runId);
    expect(run.status).toBe(RunStatus.QUEUED);
    expect(run.stepsWritten).toBeUndefined();
    expect((await deps.slots.readWaiters(KEY, 10)).map((w) => w.holder)).toEqual([runId]);

    queued(await askAgain(answer));
    expect(await eventTypes(runId)).toEqual([EventType.RUN_QUEUED]);
  });

  it('starts the queued run at its next ask once the first has finished, and gives that slot back too', async () => {
    const { deps, start, askAgain, runner, eventTypes } = await setUp();
    const first = (await start()) as PollState;
    const waiting = queued(await start());
    await drain(deps, runner);
    expect(await finalizeRun(deps, first)).toMatchObject({ status: RunStatus.SUCCEEDED });
    expect((await deps.slots.readSlots(KEY)).leases).toEqual([]);

    const state = (await askAgain(waiting)) as PollState;
    expect(state).toMatchObject({ runId: waiting.runId, status: RunStatus.RUNNING });
    expect(await eventTypes(waiting.runId)).toEqual([EventType.RUN_QUEUED, EventType.RUN_START]);
    expect((await deps.slots.readSlots(KEY)).leases.map((l) => l.holder)).toEqual([waiting.runId]);
    expect(await deps.slots.readWaiters(KEY, 10)).toEqual([]);
    expect((await deps.store.requireRun(waiting.runId)).startedAt).toBeDefined();

    await drain(deps, runner);
    expect(await finalizeRun(deps, state)).toMatchObject({ status: RunStatus.SUCCEEDED });
    expect((await deps.slots.readSlots(KEY)).leases).toEqual([]);
  });

  it('lets queued runs in by when they were queued, not by who asks first', async () => {
    const { deps, start, askAgain, runner } = await setUp();
    const first = (await start()) as PollState;
    const second = queued(await start());
    const third = queued(await start());
    await drain(deps, runner);
    await finalizeRun(deps, first);
    // The third asks first, while the second is between asks: it waits on.
    queued(await askAgain(third));
    expect(await askAgain(second)).toMatchObject({ status: RunStatus.RUNNING });
  });

  it('cancels a queued run without a slot: it leaves the line and ends CANCELED, and the next one goes on', async () => {
    const { deps, start, askAgain, runner } = await setUp();
    const first = (await start()) as PollState;
    const canceled = queued(await start());
    const third = queued(await start());

    expect(await requestCancel(deps.store, canceled.runId)).toMatchObject({ requested: true });
    const state = (await askAgain(canceled)) as PollState;
    expect(state.status).toBe(RunStatus.CANCELING);
    expect(await finalizeRun(deps, state)).toMatchObject({ status: RunStatus.CANCELED });
    expect((await deps.slots.readWaiters(KEY, 10)).map((w) => w.holder)).toEqual([third.runId]);
    expect((await deps.slots.readSlots(KEY)).leases.map((l) => l.holder)).toEqual([first.runId]);

    await drain(deps, runner);
    await finalizeRun(deps, first);
    expect(await askAgain(third)).toMatchObject({ status: RunStatus.RUNNING });
  });

  it('hands a run queued past its execution’s history budget to a new execution, which waits on in line', async () => {
    const { deps, start, eventTypes } = await setUp();
    await start();
    const first = queued(await start());
    expect(first).toMatchObject({ asks: 1, generation: 0 });
    expect(first.handOver).toBeUndefined();
    // Each ask counts 2 poll ticks: with 4 per execution, the second ask hands over.
    const second = queued(
      await startRun(deps, { queuedRun: first.queued, asks: 1, generation: 0 }, 'arn:g0', { maxTicks: 4 }),
    );
    expect(second).toMatchObject({ handOver: true, generation: 1, nextExecutionName: `${first.runId}-g1` });

    // run.asl.json ContinueAsNew: the new execution's input is the answer.
    const third = queued(await startRun(deps, { continueRun: second }, 'arn:g1', { maxTicks: 4 }));
    expect(third).toMatchObject({ runId: first.runId, asks: 1, generation: 1 });
    expect(third.handOver).toBeUndefined();
    expect((await deps.store.requireRun(first.runId)).executionArn).toBe('arn:g1');
    expect(await eventTypes(first.runId)).toEqual([EventType.RUN_QUEUED, EventType.RUN_CONTINUED]);
    expect((await deps.slots.readWaiters(KEY, 10)).map((w) => w.holder)).toEqual([first.runId]);
  });
});

describe('PollRun of a run holding a run slot', () => {
  const options = TEST_POLL_OPTIONS;

  it('renews the lease once less than half of it is left, and not before', async () => {
    const { deps, start } = await setUp();
    const state = (await start()) as PollState;
    const taken = (await deps.slots.readSlots(KEY)).leases[0]?.until;

    const early = await pollRun(deps, state, options);
    expect(early.runSlotUntil).toBe(state.runSlotUntil);
    expect((await deps.slots.readSlots(KEY)).leases[0]?.until).toBe(taken);

    const late = await pollRun(deps, { ...state, runSlotUntil: Date.now() + 60_000 }, options);
    const renewed = (await deps.slots.readSlots(KEY)).leases[0];
    expect(renewed?.holder).toBe(state.runId);
    expect(renewed?.until).toBe(late.runSlotUntil);
    expect(late.runSlotUntil).toBeGreaterThan(Date.now() + RUN_LEASE_MS - 1_000);
  });
});
