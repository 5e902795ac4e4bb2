import { describe, expect, it } from 'vitest';
import { NothingToRerunError, UnknownStepError } from '../../lib/errors.ts';
import { initialSteps, planRerun } from '../../lib/run/rerun.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import type { RunRecord, StepRecord } from '../../lib/store/types.ts';
import { flaky } from '../fixtures/jobs.ts';

// flaky: a -> b, a -> c, (b, c) -> d, (d, x) -> e
const plan = flaky.plan({ n: 1, token: 't', failOnce: false });
const now = '2026-01-01T00:00:00.000Z';

function parentWith(status: RunStatus, steps: Record<string, StepStatus>) {
  const run = { runId: 'parent', job: 'flaky', status } as RunRecord;
  const records = new Map<string, StepRecord>(
    Object.entries(steps).map(([key, s]) => [
      key,
      {
        runId: 'parent',
        key,
        status: s,
        attempt: 1,
        pending: 0,
        updatedAt: now,
        ...(s === StepStatus.SUCCEEDED ? { outputKey: `runs/parent/steps/${key}/1/output.json` } : {}),
      },
    ]),
  );
  return { run, records };
}

const byKey = (steps: StepRecord[]) => new Map(steps.map((s) => [s.key, s]));

describe('planning a rerun from failure', () => {
  const { run, records } = parentWith(RunStatus.FAILED, {
    a: StepStatus.SUCCEEDED,
    x: StepStatus.SUCCEEDED,
    b: StepStatus.FAILED,
    c: StepStatus.SUCCEEDED,
    d: StepStatus.SKIPPED,
    e: StepStatus.SKIPPED,
  });

  it('runs what did not succeed and reuses the rest', () => {
    const reuse = planRerun(run, plan, records, { fromFailure: true });
    expect([...reuse.toRun].sort()).toEqual(['b', 'd', 'e']);
    expect([...reuse.reused.keys()].sort()).toEqual(['a', 'c', 'x']);
  });

  it('counts only upstream steps that will run in pending, and queues the steps with none', () => {
    const reuse = planRerun(run, plan, records, { fromFailure: true });
    const { steps, roots } = initialSteps('child', plan, now, reuse);
    const items = byKey(steps);
    expect(roots).toEqual(['b']);
    expect(items.get('b')).toMatchObject({ status: StepStatus.QUEUED, pending: 0 });
    // d waits for b only (c is reused); e waits for d only (x is reused).
    expect(items.get('d')).toMatchObject({ status: StepStatus.WAITING, pending: 1 });
    expect(items.get('e')).toMatchObject({ status: StepStatus.WAITING, pending: 1 });
    expect(items.get('c')).toMatchObject({
      status: StepStatus.SUCCEEDED,
      outputKey: 'runs/parent/steps/c/1/output.json',
      reusedFrom: 'parent',
    });
  });
});

describe('planning a rerun of chosen steps', () => {
  const { run, records } = parentWith(RunStatus.SUCCEEDED, {
    a: StepStatus.SUCCEEDED,
    x: StepStatus.SUCCEEDED,
    b: StepStatus.SUCCEEDED,
    c: StepStatus.SUCCEEDED,
    d: StepStatus.SUCCEEDED,
    e: StepStatus.SUCCEEDED,
  });

  it('runs the chosen step and its downstream; a step with two upstream that run waits for both', () => {
    const reuse = planRerun(run, plan, records, { steps: ['a'] });
    expect([...reuse.toRun].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    const items = byKey(initialSteps('child', plan, now, reuse).steps);
    expect(items.get('d')?.pending).toBe(2);
    expect(items.get('e')?.pending).toBe(1);
    expect(items.get('x')?.status).toBe(StepStatus.SUCCEEDED);
  });

  it('names unknown steps', () => {
    expect(() => planRerun(run, plan, records, { steps: ['nope', 'a'] })).toThrow(UnknownStepError);
  });

  it('has nothing to re-run from failure when every step succeeded', () => {
    const canceled = { ...run, status: RunStatus.CANCELED };
    expect(() => planRerun(canceled, plan, records, { fromFailure: true })).toThrow(NothingToRerunError);
  });
});

describe('the step items of a first run', () => {
  it('are unchanged: roots queued, pending = number of upstream', () => {
    const { steps, roots } = initialSteps('run', plan, now);
    expect(roots.sort()).toEqual(['a', 'x']);
    expect(byKey(steps).get('e')).toMatchObject({ status: StepStatus.WAITING, pending: 2 });
  });
});
