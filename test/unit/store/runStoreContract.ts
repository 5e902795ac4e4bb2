import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { ReleaseTargetMissingError, RunNotFoundError } from '../../../lib/errors.ts';
import { EventType } from '../../../lib/eventTypes.ts';
import { newRunId } from '../../../lib/run/ids.ts';
import { RunStatus, StepStatus } from '../../../lib/status.ts';
import type { RunStore } from '../../../lib/store/runStore.ts';
import { slotWaitSinceOf } from '../../../lib/store/stepTransitions.ts';
import type { RunRecord, StepRecord } from '../../../lib/store/types.ts';

/**
 * What every RunStore does, run on each implementation (the in-memory one in
 * test/unit/store, the DynamoDB one on the emulator in test/integration/run-store.test.ts),
 * so the two cannot drift. `storeOf` is called inside each test (the emulator's store only
 * exists once its suite has started); every test works in runs of its own.
 */
export function runStoreContract(storeOf: () => RunStore): void {
  const now = () => new Date().toISOString();

  function runRecord(overrides: Partial<RunRecord> = {}): RunRecord {
    return {
      runId: newRunId(),
      job: 'contract',
      status: RunStatus.STARTING,
      stepCount: 2,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      createdAt: now(),
      updatedAt: now(),
      ...overrides,
    };
  }

  function stepRecord(runId: string, key: string, overrides: Partial<StepRecord> = {}): StepRecord {
    return { runId, key, status: StepStatus.WAITING, attempt: 1, pending: 0, updatedAt: now(), ...overrides };
  }

  /** A run with these steps written (the run RUNNING). */
  async function runWith(...steps: ((runId: string) => StepRecord)[]) {
    const store = storeOf();
    const run = runRecord({ status: RunStatus.RUNNING, expiresAt: 4_000_000_000 });
    await store.createRun(run);
    await store.putSteps(
      steps.map((make) => make(run.runId)),
      [],
      run.expiresAt,
    );
    return { store, runId: run.runId };
  }

  const error = { name: 'Error', message: 'boom' };

  describe('the run item', () => {
    it('is created once: a second create returns the run as it is', async () => {
      const store = storeOf();
      const run = runRecord();
      expect(await store.createRun(run)).toEqual({ ok: true, item: run });
      const again = await store.createRun({ ...run, job: 'other' });
      expect(again.ok).toBe(false);
      expect(!again.ok && again.current?.job).toBe('contract');
      expect(await store.getRun(run.runId)).toEqual(run);
    });

    it('is required: a missing run is a RunNotFoundError', async () => {
      const store = storeOf();
      expect(await store.getRun(newRunId())).toBeUndefined();
      await expect(store.requireRun(newRunId())).rejects.toBeInstanceOf(RunNotFoundError);
    });

    it('moves status only from the statuses given, setting the fields given', async () => {
      const store = storeOf();
      const run = runRecord();
      await store.createRun(run);
      const moved = await store.setRunStatus(run.runId, [RunStatus.STARTING], RunStatus.RUNNING, {
        stepsWritten: true,
      });
      expect(moved.ok && moved.item).toMatchObject({ status: RunStatus.RUNNING, stepsWritten: true });
      const refused = await store.setRunStatus(run.runId, [RunStatus.STARTING], RunStatus.FAILED);
      expect(refused).toMatchObject({ ok: false, current: { status: RunStatus.RUNNING } });
      expect(await store.setRunStatus(newRunId(), [RunStatus.RUNNING], RunStatus.FAILED)).toEqual({
        ok: false,
      });
      expect(await store.getRunStatus(run.runId, true)).toBe(RunStatus.RUNNING);
      expect(await store.getRunStatus(newRunId(), true)).toBeUndefined();
    });

    it('takes a cancel request once, from STARTING or RUNNING only', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      const abort = { name: 'RunTimeoutError', message: 'late' };
      const canceled = await store.requestCancel(run.runId, 'enough', abort);
      expect(canceled.ok && canceled.item).toMatchObject({
        status: RunStatus.CANCELING,
        cancelReason: 'enough',
        abortError: abort,
      });
      expect(canceled.ok && canceled.item.cancelRequestedAt).toBeTypeOf('string');
      expect(await store.requestCancel(run.runId)).toMatchObject({
        ok: false,
        current: { status: RunStatus.CANCELING, cancelReason: 'enough' },
      });
      expect(await store.requestCancel(newRunId())).toEqual({ ok: false });
    });

    it('adds to its counters, keeps the first error, and answers with the run’s status', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      // Counts need the run's counter items, written with its plan.
      await expect(store.addRunCounts(run.runId, { succeeded: 1 })).rejects.toBeInstanceOf(
        ConditionalCheckFailedException,
      );
      await store.putSteps([], [], undefined, { runCounters: run.runId });
      const first = { step: 'a', name: 'Error', message: 'first' };
      expect(await store.addRunCounts(run.runId, { succeeded: 2, failed: 1 }, first)).toBe(RunStatus.RUNNING);
      await store.addRunCounts(run.runId, { failed: 1, skipped: 0 }, { ...first, message: 'second' });
      // Enough writes to reach every counter item of a sharded counter: they all add up.
      for (let i = 0; i < 40; i++) await store.addRunCounts(run.runId, { succeeded: 1 });
      expect(await store.getRun(run.runId)).toMatchObject({
        succeeded: 42,
        failed: 2,
        skipped: 0,
        error: first,
      });
      await expect(store.addRunCounts(newRunId(), { succeeded: 1 })).rejects.toBeInstanceOf(
        ConditionalCheckFailedException,
      );
    });

    it('sets counts exactly over what the counters hold: a recount, and a final status with its counts', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      await store.putSteps([], [], undefined, { runCounters: run.runId });
      for (let i = 0; i < 20; i++) await store.addRunCounts(run.runId, { succeeded: 1, skipped: 1 });
      await store.setRunCounts(run.runId, { succeeded: 7, failed: 1, skipped: 0 });
      expect(await store.getRun(run.runId)).toMatchObject({ succeeded: 7, failed: 1, skipped: 0 });
      await store.addRunCounts(run.runId, { succeeded: 1 });
      expect(await store.getRun(run.runId)).toMatchObject({ succeeded: 8, failed: 1, skipped: 0 });
      const ended = await store.setRunStatus(run.runId, [RunStatus.RUNNING], RunStatus.FAILED, {
        succeeded: 3,
        failed: 2,
        skipped: 1,
      });
      expect(ended).toMatchObject({ ok: true, item: { status: RunStatus.FAILED, succeeded: 3, failed: 2 } });
      expect(await store.getRun(run.runId)).toMatchObject({ succeeded: 3, failed: 2, skipped: 1 });
    });

    it('answers a count with the run’s status once it is canceling', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      await store.putSteps([], [], undefined, { runCounters: run.runId });
      await store.requestCancel(run.runId, 'enough');
      // Whichever counter item each write lands on says so.
      for (let i = 0; i < 20; i++)
        expect(await store.addRunCounts(run.runId, { skipped: 1 })).toBe(RunStatus.CANCELING);
    });

    it('tracks ECS tasks as a set, untracking absent ones and missing runs quietly', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      const a = { step: 'a', attempt: 1, taskArn: 'arn:task/1' };
      const b = { step: 'b', attempt: 2, taskArn: 'arn:task/2' };
      await store.trackTask(run.runId, a);
      await store.trackTask(run.runId, a);
      await store.trackTask(run.runId, b);
      expect([...((await store.getRun(run.runId))?.tasks ?? [])].sort()).toEqual([
        'a 1 arn:task/1',
        'b 2 arn:task/2',
      ]);
      await store.untrackTasks(run.runId, [a, { step: 'c', attempt: 1, taskArn: 'arn:task/3' }]);
      expect((await store.getRun(run.runId))?.tasks).toEqual(['b 2 arn:task/2']);
      await store.untrackTasks(run.runId, [b]);
      expect((await store.getRun(run.runId))?.tasks).toBeUndefined();
      await store.untrackTasks(newRunId(), [a]);
      await expect(store.trackTask(newRunId(), a)).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    });

    it('flags a reconcile, which a recount clears', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      await store.requestReconcile(run.runId);
      expect((await store.getRun(run.runId))?.reconcile).toBe(true);
      await store.setRunCounts(run.runId, { succeeded: 1, failed: 0, skipped: 1 });
      const recounted = await store.getRun(run.runId);
      expect(recounted).toMatchObject({ succeeded: 1, failed: 0, skipped: 1 });
      expect(recounted?.reconcile).toBeUndefined();
      await expect(store.requestReconcile(newRunId())).rejects.toBeInstanceOf(
        ConditionalCheckFailedException,
      );
      await expect(store.linkExecution(newRunId(), 'arn:x')).rejects.toBeInstanceOf(
        ConditionalCheckFailedException,
      );
      await store.linkExecution(run.runId, 'arn:execution');
      expect((await store.getRun(run.runId))?.executionArn).toBe('arn:execution');
    });

    it('counts a map step’s items into the run’s steps once per map', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      expect(await store.countMapItems(run.runId, 'process', 5)).toBe(true);
      expect(await store.countMapItems(run.runId, 'process', 5)).toBe(false);
      expect(await store.countMapItems(run.runId, 'other', 4, 3)).toBe(true);
      const counted = await store.getRun(run.runId);
      expect(counted).toMatchObject({ stepCount: 2 + 5 + 4, succeeded: 3, reused: 3 });
      expect(counted).not.toHaveProperty('mapsCounted');
      expect(await store.countMapItems(newRunId(), 'process', 5)).toBe(false);
    });

    it('lists a job’s runs newest first, up to the limit', async () => {
      const store = storeOf();
      const job = `contract-${newRunId()}`;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const run = runRecord({ job });
        ids.push(run.runId);
        await store.createRun(run);
      }
      expect((await store.listRuns(job, 2)).map((r) => r.runId)).toEqual([ids[2], ids[1]]);
    });

    it('pages a job’s runs: the runs before a run id, newest first', async () => {
      const store = storeOf();
      const job = `contract-${newRunId()}`;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const run = runRecord({ job });
        ids.push(run.runId);
        await store.createRun(run);
      }
      expect((await store.listRuns(job, 1, ids[2])).map((r) => r.runId)).toEqual([ids[1]]);
      expect((await store.listRuns(job, 5, ids[1])).map((r) => r.runId)).toEqual([ids[0]]);
      expect(await store.listRuns(job, 5, ids[0])).toEqual([]);
    });
  });

  describe('step items and their transitions', () => {
    it('are written with the run’s expiry, which only the run record shows, and read back by key', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'b'),
        (r) => stepRecord(r, 'a'),
      );
      const step = await store.getStep(runId, 'a');
      expect(step).toMatchObject({ key: 'a', status: StepStatus.WAITING });
      expect(step).not.toHaveProperty('expiresAt');
      expect(step).not.toHaveProperty('resolvedBy');
      expect((await store.getRun(runId))?.expiresAt).toBe(4_000_000_000);
      const some = await store.getSteps(runId, ['a', 'missing', 'b']);
      expect([...some.keys()].sort()).toEqual(['a', 'b']);
      const listed: string[] = [];
      for await (const s of store.listSteps(runId)) listed.push(s.key);
      expect(listed).toEqual(['a', 'b']);
      expect(await store.getStep(runId, 'missing')).toBeUndefined();
    });

    it('are read by key past one batch request (BatchGetItem takes 100 keys)', async () => {
      const keys = Array.from({ length: 250 }, (_, i) => `s${i}`);
      const { store, runId } = await runWith(...keys.map((key) => (r: string) => stepRecord(r, key)));
      const found = await store.getSteps(runId, [...keys, 'missing']);
      expect([...found.keys()].sort()).toEqual([...keys].sort());
    });

    it('queues a WAITING step once, recording the delivery that released it', async () => {
      const { store, runId } = await runWith((r) => stepRecord(r, 'a', { pending: 2 }));
      const queued = await store.markQueued(runId, 'a', 'msg-1');
      expect(queued.ok && queued.item).toMatchObject({
        status: StepStatus.QUEUED,
        pending: 0,
        releasedBy: 'msg-1',
      });
      expect(await store.markQueued(runId, 'a', 'msg-2')).toMatchObject({
        ok: false,
        current: { status: StepStatus.QUEUED, releasedBy: 'msg-1' },
      });
      expect(await store.markQueued(runId, 'missing')).toEqual({ ok: false });
    });

    it('claims attempt n from QUEUED or RUNNING (counting claims), from WAITING only when told', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'q', { status: StepStatus.QUEUED }),
        (r) => stepRecord(r, 'w'),
      );
      const first = await store.claimStep(runId, 'q', 1, { taskArn: 'arn:task/1' });
      expect(first.ok && first.item).toMatchObject({
        status: StepStatus.RUNNING,
        claims: 1,
        taskArn: 'arn:task/1',
      });
      expect(first.ok && first.item.heartbeatAt).toBeTypeOf('string');
      // A redelivery after the worker died claims it again, as a Lambda attempt: no task any more.
      const second = await store.claimStep(runId, 'q', 1);
      expect(second.ok && second.item.claims).toBe(2);
      expect(second.ok && second.item).not.toHaveProperty('taskArn');
      expect(second.ok && second.item).not.toHaveProperty('heartbeatAt');
      expect(await store.claimStep(runId, 'q', 2)).toMatchObject({ ok: false, current: { attempt: 1 } });
      expect(await store.claimStep(runId, 'w', 1)).toMatchObject({
        ok: false,
        current: { status: StepStatus.WAITING },
      });
      expect((await store.claimStep(runId, 'w', 1, { fromWaiting: true })).ok).toBe(true);
    });

    it('records a success of the running attempt once, inline or by key, dropping an earlier error', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'a', { status: StepStatus.RUNNING, error }),
        (r) => stepRecord(r, 'b', { status: StepStatus.RUNNING, attempt: 2 }),
      );
      const inline = await store.recordSuccess(runId, 'a', 1, { output: { n: 1 } }, 12);
      expect(inline.ok && inline.item).toMatchObject({
        status: StepStatus.SUCCEEDED,
        output: { n: 1 },
        durationMs: 12,
      });
      expect(inline.ok && inline.item).not.toHaveProperty('error');
      expect((await store.recordSuccess(runId, 'a', 1, { output: 2 }, 1)).ok).toBe(false);
      expect((await store.recordSuccess(runId, 'b', 1, { outputKey: 'k' }, 1)).ok).toBe(false);
      const byKey = await store.recordSuccess(runId, 'b', 2, { outputKey: 'k' }, 1);
      expect(byKey.ok && byKey.item).toMatchObject({ status: StepStatus.SUCCEEDED, outputKey: 'k' });
      const undefinedOutput = await runWith((r) => stepRecord(r, 'u', { status: StepStatus.RUNNING }));
      const empty = await undefinedOutput.store.recordSuccess(
        undefinedOutput.runId,
        'u',
        1,
        { output: undefined },
        1,
      );
      expect(empty.ok && empty.item.output).toBeNull();
    });

    it('schedules a retry as the next attempt, QUEUED, with the error kept and the claims reset', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'a', { status: StepStatus.RUNNING, claims: 2, relaunches: 1 }),
        (r) => stepRecord(r, 'b', { status: StepStatus.RUNNING }),
      );
      const retry = await store.scheduleRetry(runId, 'a', 1, error);
      expect(retry.ok && retry.item).toMatchObject({
        status: StepStatus.QUEUED,
        attempt: 2,
        error,
        claims: 0,
        relaunches: 0,
      });
      expect(retry.ok && retry.item).not.toHaveProperty('promotedAt');
      expect((await store.scheduleRetry(runId, 'a', 1, error)).ok).toBe(false);
      const promoted = await store.scheduleRetry(runId, 'b', 1, error, { promote: true });
      expect(promoted.ok && promoted.item).toMatchObject({ attempt: 2, promotedAt: 2 });
    });

    it('records a failure for good, a heartbeat and a relaunch only on the attempt and status they are for', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'a', { status: StepStatus.RUNNING }),
        (r) => stepRecord(r, 'q', { status: StepStatus.QUEUED }),
      );
      const beat = await store.heartbeat(runId, 'a', 1);
      expect(beat.ok && beat.item).toMatchObject({ status: StepStatus.RUNNING });
      expect(beat.ok && beat.item.heartbeatAt).toBeTypeOf('string');
      expect((await store.heartbeat(runId, 'q', 1)).ok).toBe(false);
      const failed = await store.recordFailure(runId, 'a', 1, error);
      expect(failed.ok && failed.item).toMatchObject({ status: StepStatus.FAILED, error });
      expect((await store.recordFailure(runId, 'a', 1, error)).ok).toBe(false);
      const relaunch = await store.countRelaunch(runId, 'q', 1);
      expect(relaunch.ok && relaunch.item).toMatchObject({ status: StepStatus.QUEUED, relaunches: 1 });
      expect((await store.countRelaunch(runId, 'q', 2)).ok).toBe(false);
    });

    it('notes a wait for a concurrency slot on a QUEUED or WAITING attempt only, and queues a WAITING one', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'q', { status: StepStatus.QUEUED, updatedAt: '2000-01-01T00:00:00.000Z' }),
        (r) => stepRecord(r, 'w', { pending: 1 }),
        (r) => stepRecord(r, 'r', { status: StepStatus.RUNNING }),
      );
      const queued = await store.noteSlotWait(runId, 'q', 1);
      expect(queued.ok && queued.item.status).toBe(StepStatus.QUEUED);
      expect(queued.ok && queued.item.updatedAt > '2000-01-01T00:00:00.000Z').toBe(true);
      const waiting = await store.noteSlotWait(runId, 'w', 1);
      expect(waiting.ok && waiting.item).toMatchObject({ status: StepStatus.QUEUED, pending: 0 });
      expect((await store.noteSlotWait(runId, 'q', 2)).ok).toBe(false);
      const running = await store.noteSlotWait(runId, 'r', 1);
      expect(!running.ok && running.current?.status).toBe(StepStatus.RUNNING);
    });

    it('keeps when an attempt began to wait for a slot: a later beginning (a copy’s) does not move it', async () => {
      const { store, runId } = await runWith((r) => stepRecord(r, 'q', { status: StepStatus.QUEUED }));
      const first = await store.noteSlotWait(runId, 'q', 1, 1_000);
      expect(first.ok && slotWaitSinceOf(first.item, 1)).toBe(1_000);
      const copy = await store.noteSlotWait(runId, 'q', 1, 5_000);
      expect(copy.ok && slotWaitSinceOf(copy.item, 1)).toBe(1_000);
      // A note that is no beginning leaves it as it is.
      const alive = await store.noteSlotWait(runId, 'q', 1);
      expect(alive.ok && slotWaitSinceOf(alive.item, 1)).toBe(1_000);
      // Another attempt's wait is its own.
      expect(slotWaitSinceOf((await store.getStep(runId, 'q')) as StepRecord, 2)).toBeUndefined();
    });

    it('skips only a WAITING step, and cancels from the statuses (and attempt) given', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'w'),
        (r) => stepRecord(r, 'r', { status: StepStatus.RUNNING, attempt: 2 }),
      );
      const skipped = await store.markSkipped(runId, 'w', 'upstream failed');
      expect(skipped.ok && skipped.item).toMatchObject({
        status: StepStatus.SKIPPED,
        skippedBecause: 'upstream failed',
      });
      expect((await store.markSkipped(runId, 'w', 'again')).ok).toBe(false);
      expect(await store.markStepCanceled(runId, 'r', [StepStatus.RUNNING], 'canceled', 1)).toMatchObject({
        ok: false,
        current: { attempt: 2 },
      });
      expect((await store.markStepCanceled(runId, 'r', [StepStatus.QUEUED], 'canceled')).ok).toBe(false);
      const canceled = await store.markStepCanceled(
        runId,
        'r',
        [StepStatus.QUEUED, StepStatus.RUNNING],
        'canceled',
        2,
      );
      expect(canceled.ok && canceled.item).toMatchObject({
        status: StepStatus.CANCELED,
        canceledBecause: 'canceled',
      });
    });
  });

  describe('map expansion', () => {
    it('begins once, from WAITING, and records its progress only while RUNNING', async () => {
      const { store, runId } = await runWith(
        (r) => stepRecord(r, 'map', { pending: 1 }),
        (r) => stepRecord(r, 'done', { status: StepStatus.SUCCEEDED }),
      );
      const expansion = { items: 600, running: 600, written: 0, dispatched: 0 };
      const begun = await store.beginExpansion(runId, 'map', expansion, 3);
      expect(begun.ok && begun.item).toMatchObject({
        status: StepStatus.RUNNING,
        pending: 3,
        map: expansion,
      });
      expect(await store.beginExpansion(runId, 'map', expansion, 3)).toMatchObject({
        ok: false,
        current: { status: StepStatus.RUNNING },
      });
      const moved = await store.recordExpansion(runId, 'map', { ...expansion, written: 500 });
      expect(moved.ok && moved.item.map).toEqual({ ...expansion, written: 500 });
      expect((await store.recordExpansion(runId, 'done', expansion)).ok).toBe(false);
    });

    it('creates steps and shards only where none is: a late write leaves a moved-on item as it is', async () => {
      const { store, runId } = await runWith((r) =>
        stepRecord(r, 'map[0]', { status: StepStatus.SUCCEEDED }),
      );
      const shard = { runId, step: 'map', shard: 0, pending: 2 };
      const created = await store.createSteps(
        [stepRecord(runId, 'map[0]'), stepRecord(runId, 'map[1]')],
        [shard],
        4_000_000_000,
      );
      expect(created).toBe(2);
      expect((await store.getStep(runId, 'map[0]'))?.status).toBe(StepStatus.SUCCEEDED);
      expect((await store.getStep(runId, 'map[1]'))?.status).toBe(StepStatus.WAITING);
      expect(await store.resolveDependency(runId, 'map', 0, 0)).toBe(1);
      // The same writes again (a slow expansion's, landing late): nothing created, the count kept.
      expect(await store.createSteps([stepRecord(runId, 'map[1]')], [shard])).toBe(0);
      expect(await store.resolveDependency(runId, 'map', 1, 0)).toBe(0);
    });
  });

  describe('fan-in counters', () => {
    it('count each upstream step once, however often and in whatever batches it is resolved', async () => {
      const { store, runId } = await runWith((r) => stepRecord(r, 'sum', { pending: 5 }));
      expect(await store.resolveDependency(runId, 'sum', 0)).toBe(4);
      expect(await store.resolveDependency(runId, 'sum', 0)).toBe(4);
      expect(await store.resolveDependencies(runId, 'sum', [1, 2, 2])).toBe(2);
      // A redelivered batch, one of it new.
      expect(await store.resolveDependencies(runId, 'sum', [1, 3])).toBe(1);
      expect(await store.resolveDependencies(runId, 'sum', [4])).toBe(0);
      expect(await store.resolveDependencies(runId, 'sum', [0, 4])).toBe(0);
      expect((await store.getStep(runId, 'sum'))?.pending).toBe(0);
    });

    it('count on a shard item when given one', async () => {
      const store = storeOf();
      const run = runRecord({ status: RunStatus.RUNNING });
      await store.createRun(run);
      await store.putSteps(
        [stepRecord(run.runId, 'sum', { pending: 2 })],
        [
          { runId: run.runId, step: 'sum', shard: 0, pending: 2 },
          { runId: run.runId, step: 'sum', shard: 1, pending: 1 },
        ],
      );
      expect(await store.resolveDependencies(run.runId, 'sum', [0, 1], 0)).toBe(0);
      expect(await store.resolveDependency(run.runId, 'sum', 300, 1)).toBe(0);
      // The step item counts the shards.
      expect(await store.resolveDependencies(run.runId, 'sum', [0, 1])).toBe(0);
      const listed: string[] = [];
      for await (const s of store.listSteps(run.runId)) listed.push(s.key);
      expect(listed).toEqual(['sum']);
    });

    it('throw ReleaseTargetMissingError for a step or shard that does not exist', async () => {
      const { store, runId } = await runWith((r) => stepRecord(r, 'sum', { pending: 2 }));
      await expect(store.resolveDependency(runId, 'nope', 0)).rejects.toBeInstanceOf(
        ReleaseTargetMissingError,
      );
      await expect(store.resolveDependencies(runId, 'nope', [0, 1])).rejects.toBeInstanceOf(
        ReleaseTargetMissingError,
      );
      await expect(store.resolveDependency(runId, 'sum', 0, 3)).rejects.toThrow(
        /shard 3 of step 'sum' of run '.*' does not exist/,
      );
    });
  });

  describe('the event log', () => {
    it('lists a run’s events in the order they happened, a page past a cursor, and not its steps', async () => {
      const { store, runId } = await runWith((r) => stepRecord(r, 'a'));
      await store.appendEvent({ runId, type: EventType.RUN_START, message: 'go' }, undefined);
      const start = store.prepareEvent({ runId, type: EventType.STEP_START, step: 'a', attempt: 1 });
      const success = store.prepareEvent(
        { runId, type: EventType.STEP_SUCCESS, step: 'a', attempt: 1 },
        undefined,
        4_000_000_000,
      );
      await store.putEvents([start, success]);
      const all = await store.listEvents(runId);
      expect(all.events.map((e) => e.type)).toEqual([
        EventType.RUN_START,
        EventType.STEP_START,
        EventType.STEP_SUCCESS,
      ]);
      expect(all.events[2]).not.toHaveProperty('expiresAt');
      expect(all.cursor).toBe(success.sk);
      expect(await store.listEvents(runId, start.sk)).toEqual({
        events: [all.events[2]],
        cursor: success.sk,
      });
      expect(await store.listEvents(runId, success.sk)).toEqual({ events: [], cursor: success.sk });
      expect(await store.listEvents(newRunId())).toEqual({ events: [] });
    });

    it('pages events by a limit on the items read, the cursor where the next page starts', async () => {
      const { store, runId } = await runWith();
      const written = [];
      for (let i = 0; i < 5; i++) {
        written.push(
          store.prepareEvent({ runId, type: EventType.STEP_PROGRESS, step: 'a', message: `${i}` }),
        );
      }
      await store.putEvents(written);
      const first = await store.listEvents(runId, undefined, 2);
      expect(first.events.map((e) => e.message)).toEqual(['0', '1']);
      expect(first.cursor).toBe(written[1]?.sk);
      const second = await store.listEvents(runId, first.cursor, 2);
      expect(second.events.map((e) => e.message)).toEqual(['2', '3']);
      expect(second.cursor).toBe(written[3]?.sk);
      const rest = await store.listEvents(runId, second.cursor, 10);
      expect(rest).toEqual({ events: [expect.objectContaining({ message: '4' })], cursor: written[4]?.sk });
    });

    it('lists an attempt’s STEP_START written in its outcome’s item just before it', async () => {
      const store = storeOf();
      const runId = newRunId();
      const startedAt = new Date(Date.now() - 5).toISOString();
      const failure = store.prepareEvent(
        { runId, type: EventType.STEP_FAILURE, step: 'a', attempt: 3 },
        startedAt,
      );
      await store.putEvents([failure]);
      const { events } = await store.listEvents(runId);
      expect(events.map((e) => [e.type, e.step, e.attempt, e.at === startedAt])).toEqual([
        [EventType.STEP_START, 'a', 3, true],
        [EventType.STEP_FAILURE, 'a', 3, false],
      ]);
      expect(events[1]).not.toHaveProperty('startedAt');
    });

    it('puts many events at once, past one batch request', async () => {
      const store = storeOf();
      const runId = newRunId();
      const events = Array.from({ length: 30 }, (_, i) =>
        store.prepareEvent({ runId, type: EventType.STEP_PROGRESS, message: String(i) }),
      );
      await store.putItems(events.map((item) => ({ item })));
      const listed = await store.listEvents(runId);
      expect(listed.events.map((e) => e.message)).toEqual(events.map((_, i) => String(i)));
    });
  });
}
