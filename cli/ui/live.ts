import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { LambdagClient } from '../../lib/client/lambdagClient.ts';
import { LogFollower } from '../../lib/client/logFollower.ts';
import type { RunReader } from '../../lib/client/runReader.ts';
import type { JobRegistry } from '../../lib/job/registry.ts';

/** Events sent to a run page per poll at most: a busy run's log catches up page by page. */
const LIVE_EVENTS = 100;

/**
 * A run page's live feed (server-sent events): `run` when the run's status or counters
 * change, `events` with the events that are new since the last poll. The page reads its
 * graph again on `run`; it never reads the whole log.
 */
export function liveRun(c: Context, client: LambdagClient, runId: string, pollMs: number): Response {
  const after = c.req.query('after') || undefined;
  return streamSSE(c, async (stream) => {
    let seen = '';
    let cursor = after;
    const log = new LogFollower();
    while (!stream.aborted) {
      const run = await client.getRun(runId);
      const state = `${run.status}:${run.succeeded}:${run.failed}:${run.skipped}:${run.updatedAt}`;
      if (state !== seen) {
        seen = state;
        await stream.writeSSE({ event: 'run', data: JSON.stringify(run) });
      }
      const page = await client.listEvents(runId, cursor, LIVE_EVENTS);
      if (page.events.length) {
        log.saw(page.events);
        cursor = page.cursor;
        await stream.writeSSE({ event: 'events', data: JSON.stringify(page) });
        continue;
      }
      if (log.done(run.status)) {
        await stream.writeSSE({ event: 'end', data: run.status });
        return;
      }
      await stream.sleep(pollMs);
    }
  });
}

/** The runs list's live feed: `changed` whenever the newest runs (or their states) change. */
export function liveRuns(c: Context, reader: RunReader, registry: JobRegistry, pollMs: number): Response {
  const job = c.req.query('job');
  return streamSSE(c, async (stream) => {
    let seen = '';
    while (!stream.aborted) {
      const { runs } = await reader.listRunsPage({ jobs: job ? [job] : registry.names(), limit: 20 });
      const state = runs.map((r) => `${r.runId}:${r.status}:${r.succeeded}:${r.failed}`).join(',');
      if (state !== seen) {
        if (seen) await stream.writeSSE({ event: 'changed', data: String(runs.length) });
        seen = state;
      }
      await stream.sleep(pollMs);
    }
  });
}
