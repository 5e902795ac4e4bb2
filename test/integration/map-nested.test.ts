import { describe, expect, it } from 'vitest';
import { itemCountsByMap } from '../../cli/mapRows.ts';
import { EventType } from '../../lib/eventTypes.ts';
import { itemRuns } from '../fixtures/mapJobs.ts';
import { eventsOf, runToEnd, statusCounts, stepsOf, useStack } from '../support/stack.ts';

const handle = useStack();

/** Group g's elements doubled, in (group, element) order: what `collect` gets. */
const expected = (sizes: readonly number[]) =>
  sizes.flatMap((size, g) => Array.from({ length: size }, (_, j) => 2 * (100 * g + j)));

describe('a map nested in a map, on the stack', () => {
  it('runs element j of outer item i as work[i][j], each once, and collects them in (i, j) order', async () => {
    const sizes = [3, 0, 4];
    const run = await runToEnd(handle, 'mapped-nested', { sizes, maxConcurrency: 2 });

    expect(run).toMatchObject({ status: 'SUCCEEDED', stepCount: 4 + 3 + 7, succeeded: 14 });
    expect(run.result).toEqual(expected(sizes));
    const steps = await stepsOf(handle, run.runId);
    const inner = [...steps.values()].filter((step) => step.item?.map === 'work');
    expect(inner.map((step) => step.key).sort()).toEqual(
      [
        'work[0][0]',
        'work[0][1]',
        'work[0][2]',
        'work[2][0]',
        'work[2][1]',
        'work[2][2]',
        'work[2][3]',
      ].sort(),
    );
    expect(inner.every((step) => itemRuns.get(`${run.runId}/${step.key}`) === 1)).toBe(true);
    expect(steps.get('work[2][3]')).toMatchObject({ output: 406, item: { index: 6, count: 7 } });
    // `lambdag status` counts the inner map's items on its row, as any map's.
    expect(itemCountsByMap([...steps.values()]).get('work')).toEqual({ SUCCEEDED: 7 });
    const events = await eventsOf(handle, run.runId);
    const started = events.filter((e) => e.type === EventType.STEP_START && e.step?.startsWith('work['));
    expect(started).toHaveLength(7);
  });

  it('runs no inner item when the outer items return empty lists; the collector gets []', async () => {
    const run = await runToEnd(handle, 'mapped-nested', { sizes: [0, 0, 0] });

    expect(run).toMatchObject({ status: 'SUCCEEDED', stepCount: 4 + 3, result: [] });
    expect(statusCounts(await stepsOf(handle, run.runId))).toEqual({ SUCCEEDED: 7 });
  });

  it('a rerun after an inner item failed runs that item only', async () => {
    const sizes = [2, 4, 1];
    const parent = await runToEnd(handle, 'mapped-nested', { sizes, failOnce: ['1:3'] });
    expect(parent).toMatchObject({ status: 'FAILED', failedSteps: ['work'], skippedSteps: ['collect'] });

    const { runId } = await handle.client.rerun(parent.runId, { fromFailure: true });
    const run = await handle.client.waitForRun(runId);

    // The outer map is reused whole: its items stay in the parent, not counted here.
    expect(run).toMatchObject({ status: 'SUCCEEDED', stepCount: 4 + 7, reused: 2 + 6 });
    expect(run.result).toEqual(expected(sizes));
    const ran = [...(await stepsOf(handle, runId)).values()]
      .filter((step) => step.item && itemRuns.has(`${runId}/${step.key}`))
      .map((step) => step.key);
    expect(ran).toEqual(['work[1][3]']);
    const reused = (await eventsOf(handle, runId)).filter(
      (e) => e.type === EventType.STEP_REUSED && e.step === 'work',
    );
    expect(reused.map((e) => e.data)).toEqual([
      {
        parentRunId: parent.runId,
        count: 6,
        steps: ['work[0][0]', 'work[0][1]', 'work[1][0]', 'work[1][1]', 'work[1][2]', 'work[2][0]'],
      },
    ]);
  });
});
