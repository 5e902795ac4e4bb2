import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_HEADER } from '../../cli/ui/app.ts';
import { startUiServer, type UiServer } from '../../cli/ui/server.ts';
import type { RunGraph } from '../../lib/client/runGraph.ts';
import type { AttemptView } from '../../lib/client/runViews.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import type { RunEvent, RunRecord, StepRecord } from '../../lib/store/types.ts';
import { runToEnd, until, useStack } from '../support/stack.ts';

const handle = useStack();
let server: UiServer;

beforeAll(async () => {
  server = await startUiServer(handle, { pollMs: 100 });
});
afterAll(async () => {
  await server?.close();
});

async function get<T>(path: string): Promise<T> {
  const response = await fetch(new URL(path, server.url));
  expect(response.status, `${path}: ${await response.clone().text()}`).toBe(200);
  return (await response.json()) as T;
}

/** A POST with the session token, another token, or (null) none. */
function post(path: string, body: unknown, token: string | null = server.token): Promise<Response> {
  return fetch(new URL(path, server.url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { [TOKEN_HEADER]: token }),
    },
    body: JSON.stringify(body),
  });
}

describe('the UI server', () => {
  it('listens on 127.0.0.1 and serves the page with its session token', async () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    const page = await (await fetch(server.url)).text();
    expect(page).toContain(`<meta name="lambdag-token" content="${server.token}"`);
    expect((await fetch(new URL('/assets/app.js', server.url))).status).toBe(200);
  });

  it('answers only requests addressed to its loopback address (no DNS rebinding)', async () => {
    const { port } = new URL(server.url);
    const status = (host: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/api/jobs', headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        })
          .on('error', reject)
          .end();
      });
    expect(await status(`attacker.example:${port}`)).toBe(421);
    expect(await status(`localhost:${port}`)).toBe(200);
    expect(await status(`127.0.0.1:${port}`)).toBe(200);
  });

  it('refuses a state-changing request without the token, or with another (403), and starts nothing', async () => {
    const before = await handle.client.listRuns('serial', 100);
    expect((await post('/api/runs', { job: 'serial' }, null)).status).toBe(403);
    expect((await post('/api/runs', { job: 'serial' }, 'not-the-token')).status).toBe(403);
    expect((await post(`/api/runs/${before[0]?.runId ?? 'x'}/cancel`, {}, null)).status).toBe(403);
    expect((await post('/api/queues/default/redrive', {}, null)).status).toBe(403);
    expect(await handle.client.listRuns('serial', 100)).toHaveLength(before.length);
  });

  it('starts a run with the token, and returns the input’s errors by field', async () => {
    const bad = await post('/api/runs', { job: 'diamond', input: { x: 'one' } });
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: { code: string; issues: string[] } };
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.issues).toEqual([expect.stringMatching(/^input\.x: /)]);

    const ok = await post('/api/runs', { job: 'diamond', input: { x: 1 } });
    expect(ok.status).toBe(201);
    const { runId } = (await ok.json()) as { runId: string };
    expect((await handle.client.waitForRun(runId)).status).toBe(RunStatus.SUCCEEDED);
  });

  it('pages runs newest first by cursor, filtered by job and status, from the byJob index', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await runToEnd(handle, 'serial')).runId);
    const first = await get<{ runs: RunRecord[]; cursor?: string }>('/api/runs?job=serial&limit=2');
    expect(first.runs.map((r) => r.runId)).toEqual([ids[2], ids[1]]);
    expect(first.cursor).toBeDefined();
    const second = await get<{ runs: RunRecord[]; cursor?: string }>(
      `/api/runs?job=serial&limit=2&cursor=${first.cursor}`,
    );
    expect(second.runs[0]?.runId).toBe(ids[0]);
    expect(second.runs.map((r) => r.runId)).not.toContain(ids[1]);

    // Across every job, newest first: the newest serial run leads.
    const all = await get<{ runs: RunRecord[] }>('/api/runs?limit=5');
    expect(all.runs[0]?.runId).toBe(ids[2]);
    const failed = await get<{ runs: RunRecord[] }>('/api/runs?job=serial&status=FAILED');
    expect(failed.runs).toEqual([]);
    expect((await fetch(new URL('/api/runs?status=NOPE', server.url))).status).toBe(400);
    expect((await fetch(new URL('/api/runs?job=nope', server.url))).status).toBe(404);
  });

  it('shows a diamond run: steps in plan order, its graph, its events paged, its timeline', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 2 });
    const view = await get<{ run: RunRecord; steps: StepRecord[]; graph: RunGraph; stepCount: number }>(
      `/api/runs/${run.runId}`,
    );
    // Plan (topological) order: `a` before `b` and `c`, `d` after both.
    const order = view.steps.map((s) => s.key);
    expect([order[0], order.slice(1, 3).sort(), order[3]]).toEqual(['a', ['b', 'c'], 'd']);
    expect(view.graph.nodes.map((n) => [n.id, n.status])).toEqual(
      order.map((key) => [key, StepStatus.SUCCEEDED]),
    );
    expect(view.graph.edges).toHaveLength(4);

    // Events may still land after the run's end (a deferred start, the execution's end): wait till they settle.
    let last = -1;
    const all = await until('the run’s events to settle', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const listed = await handle.client.listEvents(run.runId);
      const settled = listed.events.length === last;
      last = listed.events.length;
      return settled ? listed : undefined;
    });
    const page1 = await get<{ events: RunEvent[]; cursor: string }>(`/api/runs/${run.runId}/events?limit=2`);
    const page2 = await get<{ events: RunEvent[]; cursor: string }>(
      `/api/runs/${run.runId}/events?limit=2&after=${encodeURIComponent(page1.cursor)}`,
    );
    expect([...page1.events, ...page2.events]).toEqual(
      all.events.slice(0, page1.events.length + page2.events.length),
    );
    expect(page2.cursor > page1.cursor).toBe(true);

    const timeline = await get<{ attempts: AttemptView[] }>(`/api/runs/${run.runId}/timeline`);
    expect(timeline.attempts.map((a) => a.step).sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const attempt of timeline.attempts) {
      expect(attempt.outcome).toBe('SUCCEEDED');
      expect(attempt.queuedAt! <= attempt.startedAt!).toBe(true);
      expect(attempt.startedAt! <= attempt.endedAt!).toBe(true);
    }
    const output = await get<{ value: unknown; size: number }>(`/api/runs/${run.runId}/steps/d/output`);
    expect(output.value).toEqual({ b: 6, c: 9, sum: 15 });
    expect(output.size).toBe(JSON.stringify(output.value).length);
  });

  it('shows a failed step’s attempts with their errors and its skipped downstream', async () => {
    const run = await runToEnd(handle, 'failing');
    const step = await get<{ step: StepRecord; attempts: AttemptView[]; downstream: string[] }>(
      `/api/runs/${run.runId}/steps/explode`,
    );
    expect(step.step.status).toBe(StepStatus.FAILED);
    expect(step.attempts.map((a) => a.outcome)).toEqual(['RETRIED', 'FAILED']);
    expect(step.attempts[1]?.error?.message).toContain('the warehouse is read-only');
    expect(step.attempts[1]?.error?.stack).toContain('Error');
    expect(step.downstream).toEqual(['report']);
    const view = await get<{ steps: StepRecord[] }>(`/api/runs/${run.runId}`);
    expect(view.steps.find((s) => s.key === 'report')?.status).toBe(StepStatus.SKIPPED);
    expect((await fetch(new URL(`/api/runs/${run.runId}/steps/nope`, server.url))).status).toBe(404);
  });

  it('collapses a fan-out into one node with its counts, and pages its steps', async () => {
    const run = await runToEnd(handle, 'fanout', { n: 40 });
    const view = await get<{ graph: RunGraph; steps: StepRecord[]; stepCount: number }>(
      `/api/runs/${run.runId}?limit=10`,
    );
    expect(view.graph.nodes.map((n) => [n.id, n.size])).toEqual([
      ['plan', 1],
      ['square-[0..39]', 40],
      ['sum', 1],
    ]);
    expect(view.graph.nodes[1]?.counts).toEqual({ SUCCEEDED: 40 });
    expect(view.graph.edges).toEqual([
      { from: 'plan', to: 'square-[0..39]' },
      { from: 'square-[0..39]', to: 'sum' },
    ]);
    expect(view.steps).toHaveLength(10);
    expect(view.stepCount).toBe(42);
    const group = await get<{ steps: StepRecord[]; total: number }>(
      `/api/runs/${run.runId}/steps?group=${encodeURIComponent('square-[0..39]')}&offset=30&limit=100`,
    );
    expect(group.total).toBe(40);
    expect(group.steps).toHaveLength(10);
    expect(group.steps.every((s) => s.key.startsWith('square-'))).toBe(true);
  });

  it('cancels and reruns from failure with the token, and streams a run live until it ends', async () => {
    const failed = await runToEnd(handle, 'failing');
    const rerun = await post(`/api/runs/${failed.runId}/rerun`, { fromFailure: true });
    expect(rerun.status).toBe(201);
    const { runId } = (await rerun.json()) as { runId: string };
    expect((await handle.client.waitForRun(runId)).parentRunId).toBe(failed.runId);

    const cancel = await post(`/api/runs/${failed.runId}/cancel`, {});
    expect(await cancel.json()).toMatchObject({ requested: false });

    const live = await (await fetch(new URL(`/api/live/runs/${failed.runId}`, server.url))).text();
    expect(live).toContain('event: run');
    expect(live).toContain('event: events');
    expect(live).toContain('event: end\ndata: FAILED');
  });

  it('shows the step queues and redrives a dead-letter queue', async () => {
    const { queues } = await get<{ queues: { name: string; visible: number }[] }>('/api/queues');
    expect(queues.map((q) => q.name)).toContain('default');
    const redrive = await post('/api/queues/default/redrive', {});
    expect(await redrive.json()).toEqual({ moved: 0, queue: 'default' });
  });
});
