import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import type { RunEvent } from '../../lib/store/types.ts';
import { itemRuns } from '../fixtures/mapJobs.ts';
import { eventsOf, runToEnd, StepStatus, statusCounts, stepsOf, until, useStack } from '../support/stack.ts';

const handle = useStack();

const doubles = (n: number) => Array.from({ length: n }, (_, i) => 2 * i);

/** The most items running at once, from their STEP_START and end events. */
function mostRunning(events: readonly RunEvent[]): number {
  const ends = new Set<string>([EventType.STEP_SUCCESS, EventType.STEP_FAILURE, EventType.STEP_RETRY]);
  const changes: [string, number][] = [];
  for (const e of events) {
    if (!e.step?.startsWith('double[')) continue;
    if (e.type === EventType.STEP_START) changes.push([e.at, 1]);
    else if (ends.has(e.type)) changes.push([e.at, -1]);
  }
  // At the same instant an item's end comes before its successor's start (it sent it).
  changes.sort(([a, da], [b, db]) => a.localeCompare(b) || da - db);
  let running = 0;
  let most = 0;
  for (const [, delta] of changes) {
    running += delta;
    most = Math.max(most, running);
  }
  return most;
}

describe('map steps on the stack', () => {
  it.each([0, 1, 1000])('runs a map of %i item(s) and collects their outputs in item order', async (n) => {
    const run = await runToEnd(handle, 'mapped', { n });

    expect(run).toMatchObject({ status: 'SUCCEEDED', stepCount: 3 + n, succeeded: 3 + n });
    expect(run.result).toEqual({
      count: n,
      total: doubles(n).reduce((a, b) => a + b, 0),
      values: doubles(n),
    });
    const steps = await stepsOf(handle, run.runId);
    expect(statusCounts(steps)).toEqual({ SUCCEEDED: 3 + n });
    const ranOnce = [...steps.keys()].filter((key) => itemRuns.get(`${run.runId}/${key}`) === 1);
    expect(ranOnce).toHaveLength(n);
  });

  it('passes items and outputs too large for a step item through S3', async () => {
    const run = await runToEnd(handle, 'mapped-large', { n: 3 });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toEqual([6002, 6002, 6002]);
    const item = (await stepsOf(handle, run.runId)).get('upper[1]');
    expect(item?.item?.inputKey).toBe(`runs/${run.runId}/maps/upper/items/1.json`);
    expect(item?.outputKey).toBe(`runs/${run.runId}/steps/upper[1]/1/output.json`);
  });

  it('never has more than maxConcurrency items running', async () => {
    const run = await runToEnd(handle, 'mapped', { n: 20, maxConcurrency: 5, sleepMs: 50 });

    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toMatchObject({ values: doubles(20) });
    const most = mostRunning(await eventsOf(handle, run.runId));
    expect(most).toBeLessThanOrEqual(5);
    expect(most).toBeGreaterThan(1);
  });

  it('succeeds with 2 of 100 items failing when it tolerates 2, and fails past its tolerance', async () => {
    const tolerated = await runToEnd(handle, 'mapped', { n: 100, failAt: [10, 60], tolerated: 2 });
    expect(tolerated.status).toBe('SUCCEEDED');
    expect(tolerated.result).toMatchObject({ count: 98 });
    expect(tolerated.error).toBeUndefined();

    const failed = await runToEnd(handle, 'mapped', { n: 100, failAt: [10, 60, 61], tolerated: '2%' });
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: { step: 'double', code: 'MAP_ITEMS_FAILED' },
      failedSteps: ['double'],
      skippedSteps: ['collect'],
    });
  });
});

describe('rerun of a map with failed items', () => {
  it('runs only the failed items again and reuses the others', async () => {
    const parent = await runToEnd(handle, 'mapped', { n: 30, failOnce: [4, 17], maxConcurrency: 4 });
    expect(parent).toMatchObject({ status: 'FAILED', failedSteps: ['double'], skippedSteps: ['collect'] });

    const { runId } = await handle.client.rerun(parent.runId, { fromFailure: true });
    const run = await handle.client.waitForRun(runId);

    expect(run).toMatchObject({ status: 'SUCCEEDED', stepCount: 3 + 30, reused: 1 + 28 });
    expect(run.result).toMatchObject({ count: 30, values: doubles(30) });
    const ran = [...(await stepsOf(handle, runId)).values()]
      .filter((step) => step.item && itemRuns.has(`${runId}/${step.key}`))
      .map((step) => step.key)
      .sort();
    expect(ran).toEqual(['double[17]', 'double[4]']);
  });
});

describe('cancel of a run with a map', () => {
  it('cancels the items not yet started and the map step; none of them starts afterwards', async () => {
    const { runId } = await handle.client.startRun({
      job: 'mapped',
      input: { n: 40, maxConcurrency: 2, sleepMs: 300 },
    });
    await until('two items to succeed', async () => {
      const steps = await stepsOf(handle, runId);
      const done = [...steps.values()].filter((s) => s.item && s.status === StepStatus.SUCCEEDED);
      return done.length >= 2 ? true : undefined;
    });
    await handle.client.cancelRun(runId, { reason: 'test' });
    const run = await handle.client.waitForRun(runId);

    expect(run.status).toBe('CANCELED');
    const steps = await stepsOf(handle, runId);
    const items = [...steps.values()].filter((s) => s.item);
    expect(items).toHaveLength(40);
    expect(items.filter((s) => itemRuns.has(`${runId}/${s.key}`)).length).toBeLessThan(10);
    expect(statusCounts(steps).WAITING ?? 0).toBe(0);
    expect(steps.get('double')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('collect')?.status).toBe(StepStatus.CANCELED);
  });
});
