import { describe, expect, it } from 'vitest';
import { SERIAL_LENGTH } from '../../examples/serial/job.ts';
import type { Deps } from '../../lib/deps.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { reconcileRun } from '../../lib/run/reconcile.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import { s3Keys } from '../../lib/store/keys.ts';
import type { RunRecord, StepRecord } from '../../lib/store/types.ts';
import { stepsOf, until, useStack } from '../support/stack.ts';

const handle = useStack();
const LIMITS = { queuedLostSeconds: 60, runningLostSeconds: 600 };
/** Reconciling is PollRun's: its deps, whose clients sign as its role (and whose sends the stack counts). */
const pollRunDeps = () => handle.stack.functionDeps.get('pollRun') as Deps;

/**
 * A `serial` run whose first step succeeded `finishedSecondsAgo` ago while the message
 * releasing its dependent never arrived: step-02 has one upstream, so it is released by
 * that message alone and is still WAITING. Reconciled with the handlers' own deps, whose
 * sends the stack counts.
 */
async function runWithLostRelease(finishedSecondsAgo: number): Promise<RunRecord> {
  const runId = newRunId();
  const now = new Date().toISOString();
  const finishedAt = new Date(Date.now() - finishedSecondsAgo * 1000).toISOString();
  const run: RunRecord = {
    runId,
    job: 'serial',
    status: RunStatus.RUNNING,
    stepCount: SERIAL_LENGTH,
    succeeded: 1,
    failed: 0,
    skipped: 0,
    input: { start: 0 },
    createdAt: now,
    updatedAt: now,
  };
  expect((await handle.deps.store.createRun(run)).ok).toBe(true);
  const steps: StepRecord[] = [
    {
      runId,
      key: 'step-01',
      status: StepStatus.SUCCEEDED,
      attempt: 1,
      pending: 0,
      output: 1,
      finishedAt,
      updatedAt: finishedAt,
    },
  ];
  for (let i = 2; i <= SERIAL_LENGTH; i++) {
    const key = `step-${String(i).padStart(2, '0')}`;
    steps.push({ runId, key, status: StepStatus.WAITING, attempt: 1, pending: 1, updatedAt: finishedAt });
  }
  await handle.deps.store.putSteps(steps);
  return run;
}

describe('reconciling a step released by its message alone', () => {
  it('leaves it WAITING while its message may still be on the way', async () => {
    const run = await runWithLostRelease(5);
    const report = await reconcileRun(pollRunDeps(), run, LIMITS);
    expect(report.released).toBe(0);
    expect((await handle.deps.store.getStep(run.runId, 'step-02'))?.status).toBe(StepStatus.WAITING);
    expect(handle.stack.faults.sends(run.runId, 'step-02')).toBe(0);
  });

  it('queues and sends it once its upstream finished queuedLostSeconds ago, and the run goes on', async () => {
    const run = await runWithLostRelease(LIMITS.queuedLostSeconds + 5);
    const report = await reconcileRun(pollRunDeps(), run, LIMITS);
    expect(report.released).toBe(1);
    expect(handle.stack.faults.sends(run.runId, 'step-02')).toBe(1);
    const last = `step-${SERIAL_LENGTH}`;
    await until(`${last} SUCCEEDED`, async () => {
      const step = await handle.deps.store.getStep(run.runId, last);
      return step?.status === StepStatus.SUCCEEDED ? step : undefined;
    });
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('step-02')?.releasedBy).toBe('reconcile');
    expect(steps.get(last)?.output).toBe(SERIAL_LENGTH);
    // Each step after it was sent once, by its upstream.
    for (let i = 3; i <= SERIAL_LENGTH; i++) {
      expect(handle.stack.faults.sends(run.runId, `step-${String(i).padStart(2, '0')}`)).toBe(1);
    }
  });
});

describe('reconciling a run whose input is in S3', () => {
  it('reads the input to rebuild the plan and sends the lost step through a claim check', async () => {
    const runId = newRunId();
    const input = { blob: 'b'.repeat(300_000) };
    const inputKey = s3Keys.runInput(runId);
    await handle.deps.payloads.putJson(inputKey, input);
    const now = new Date().toISOString();
    const finishedAt = new Date(Date.now() - (LIMITS.queuedLostSeconds + 5) * 1000).toISOString();
    const run: RunRecord = {
      runId,
      job: 'big-input',
      status: RunStatus.RUNNING,
      stepCount: 2,
      succeeded: 1,
      failed: 0,
      skipped: 0,
      inputKey,
      createdAt: now,
      updatedAt: now,
    };
    expect((await handle.deps.store.createRun(run)).ok).toBe(true);
    const digest = { bytes: input.blob.length, sha256: 'x' };
    await handle.deps.store.putSteps([
      {
        runId,
        key: 'digest',
        status: StepStatus.SUCCEEDED,
        attempt: 1,
        pending: 0,
        output: digest,
        finishedAt,
        updatedAt: finishedAt,
      },
      { runId, key: 'check', status: StepStatus.WAITING, attempt: 1, pending: 1, updatedAt: finishedAt },
    ]);
    const report = await reconcileRun(pollRunDeps(), run, LIMITS);
    expect(report.released).toBe(1);
    const check = await until('check SUCCEEDED', async () => {
      const step = await handle.deps.store.getStep(runId, 'check');
      return step?.status === StepStatus.SUCCEEDED ? step : undefined;
    });
    expect(check.output).toEqual({ ...digest, same: true });
    // PollRun read the input from S3 and put the step's message there (a claim check).
    const pollRunS3 = handle.stack.iam.authority
      .usage()
      .allowed.filter((u) => u.principal === 'lambdag-local-pollRun' && u.action.startsWith('s3:'))
      .map((u) => u.action);
    expect(new Set(pollRunS3)).toEqual(new Set(['s3:GetObject', 's3:PutObject']));
  });
});
