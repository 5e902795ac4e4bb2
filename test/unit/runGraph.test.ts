import { describe, expect, it } from 'vitest';
import { diamond } from '../../examples/diamond/job.ts';
import { fanout } from '../../examples/fanout/job.ts';
import { groupSteps, planOrder, runGraph } from '../../lib/client/runGraph.ts';
import { decodeCursor, mergeRunPages } from '../../lib/client/runViews.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import type { RunRecord, StepRecord } from '../../lib/store/types.ts';

const step = (key: string, status: StepStatus): StepRecord =>
  ({ runId: 'r', key, status, attempt: 1, pending: 0, updatedAt: '' }) as StepRecord;

describe('a run’s graph', () => {
  it('draws a diamond as its 4 steps and 4 edges', () => {
    const plan = diamond.plan({ x: 1 });
    const graph = runGraph(plan, new Map([['a', step('a', StepStatus.SUCCEEDED)]]));
    expect(graph.nodes.map((n) => [n.id, n.status])).toEqual(
      plan.order.map((k) => [k, k === 'a' ? 'SUCCEEDED' : 'WAITING']),
    );
    expect(graph.edges).toHaveLength(4);
  });

  it('collapses a 10,000-step fan-out into one node with its counts, the failed status first', () => {
    const plan = fanout.plan(fanout.parseInput({ n: 10_000 }));
    const steps = new Map<string, StepRecord>();
    for (let i = 0; i < 10_000; i++) steps.set(`square-${i}`, step(`square-${i}`, StepStatus.SUCCEEDED));
    steps.set('square-7', step('square-7', StepStatus.FAILED));
    const graph = runGraph(plan, steps);
    expect(graph.nodes.map((n) => n.id)).toEqual(['plan', 'square-[0..9999]', 'sum']);
    expect(graph.nodes[1]).toMatchObject({
      size: 10_000,
      status: 'FAILED',
      counts: { SUCCEEDED: 9_999, FAILED: 1 },
    });
    expect(graph.edges).toEqual([
      { from: 'plan', to: 'square-[0..9999]' },
      { from: 'square-[0..9999]', to: 'sum' },
    ]);
  });

  it('leaves fewer than three numbered steps, or steps of other shapes, apart', () => {
    expect(groupSteps(fanout.plan(fanout.parseInput({ n: 2 }))).size).toBe(0);
    expect(planOrder(diamond.plan({ x: 1 }), ['d', 'a', 'c', 'b', 'extra'])).toEqual([
      ...diamond.plan({ x: 1 }).order,
      'extra',
    ]);
  });
});

describe('a page of runs across jobs', () => {
  const run = (job: string, runId: string): RunRecord =>
    ({ job, runId, status: RunStatus.SUCCEEDED }) as RunRecord;

  it('merges the jobs’ pages newest first and moves each job’s cursor past what it shows', () => {
    const pages = new Map([
      ['a', [run('a', '05'), run('a', '03')]],
      ['b', [run('b', '04'), run('b', '02')]],
    ]);
    const page = mergeRunPages(pages, {}, 2);
    expect(page.runs.map((r) => r.runId)).toEqual(['05', '04']);
    expect(decodeCursor(page.cursor)).toEqual({ a: '05', b: '04' });
    // A job whose page was short and shown whole has no more; when none has, there is no cursor.
    const last = mergeRunPages(new Map([['a', [run('a', '01')]]]), { a: '03', b: null }, 2);
    expect(last).toEqual({ runs: [run('a', '01')] });
  });
});
