import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { LambdagClient } from '../../lib/client/lambdagClient.ts';
import type { QueueInspector } from '../../lib/client/queueInspector.ts';
import { ErrorCode, InvalidInputError, LambdagError } from '../../lib/errors.ts';
import type { JobRegistry } from '../../lib/job/registry.ts';
import { RunStatus } from '../../lib/status.ts';
import { liveRun, liveRuns } from './live.ts';

/** The built page and its assets (ui/dist, made by `npm run build:ui` from ui/src). */
export const ASSETS_DIR = join(import.meta.dirname, '../../ui/dist');

/** The header a state-changing request carries: the session token the page was served with. */
export const TOKEN_HEADER = 'x-lambdag-token';

/** Bounds of every listing: a page never holds more than MAX_PAGE items. */
export const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;

export interface UiAppOptions {
  readonly client: LambdagClient;
  readonly registry: JobRegistry;
  readonly queues: QueueInspector;
  /** Per-session token: required on every POST (no CSRF from another page). */
  readonly token: string;
  /** How often live streams re-read the run store (ms). */
  readonly pollMs?: number;
  /**
   * The Host headers served (e.g. `127.0.0.1:PORT`, `localhost:PORT`), known once the server
   * listens; others get 421. A page of another site whose name an attacker re-points at
   * 127.0.0.1 (DNS rebinding) sends its own name as Host, so it reads nothing. Undefined: any.
   */
  readonly allowedHosts?: () => ReadonlySet<string> | undefined;
}

const NOT_FOUND: ReadonlySet<string> = new Set([
  ErrorCode.RUN_NOT_FOUND,
  ErrorCode.JOB_NOT_FOUND,
  ErrorCode.UNKNOWN_STEP,
  ErrorCode.ARTIFACT_EXPIRED,
]);

const limitOf = (c: Context) =>
  Math.min(MAX_PAGE, Math.max(1, Number(c.req.query('limit') ?? DEFAULT_PAGE) || DEFAULT_PAGE));

const StartBody = z.object({ job: z.string().min(1), input: z.unknown().optional() });
const RerunBody = z.object({
  fromFailure: z.boolean().optional(),
  steps: z.array(z.string().min(1)).optional(),
});
const CancelBody = z.object({ reason: z.string().max(1_000).optional() });
const RedriveBody = z.object({ max: z.number().int().positive().optional() });

/**
 * The UI's HTTP API over the one client API the CLI uses (LambdagClient and its reader,
 * QueueInspector): JSON reads, paged and bounded; actions that need the session token;
 * server-sent events for live pages; and the built page.
 */
export function createUiApp(options: UiAppOptions): Hono {
  const { client, registry, queues, token } = options;
  const reader = client.reader;
  const pollMs = options.pollMs ?? 1_000;
  const app = new Hono();
  const page = readFileSync(join(ASSETS_DIR, 'index.html'), 'utf8').replace('__LAMBDAG_TOKEN__', token);

  app.onError((error, c) => {
    if (error instanceof LambdagError) {
      const issues = error instanceof InvalidInputError ? error.issues : undefined;
      return c.json(
        {
          error: {
            code: error.code,
            name: error.name,
            message: error.message,
            ...(issues ? { issues } : {}),
          },
        },
        NOT_FOUND.has(error.code) ? 404 : 400,
      );
    }
    if (error instanceof z.ZodError) {
      const issues = error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      return c.json({ error: { code: ErrorCode.INVALID_INPUT, message: 'invalid request', issues } }, 400);
    }
    return c.json({ error: { code: 'INTERNAL', message: error.message } }, 500);
  });

  app.use('*', async (c, next) => {
    const hosts = options.allowedHosts?.();
    if (hosts && !hosts.has(c.req.header('host') ?? '')) {
      return c.json(
        { error: { code: 'MISDIRECTED', message: 'this server answers only its own address' } },
        421,
      );
    }
    await next();
  });

  // Every state-changing request carries the token of the page that sends it.
  app.use('/api/*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !sameToken(c.req.header(TOKEN_HEADER), token)) {
      return c.json({ error: { code: 'FORBIDDEN', message: `missing or wrong ${TOKEN_HEADER}` } }, 403);
    }
    await next();
  });

  app.get('/', (c) => c.html(page));
  app.get('/runs/*', (c) => c.html(page));
  app.get('/queues', (c) => c.html(page));
  app.use(
    '/assets/*',
    serveStatic({ root: ASSETS_DIR, rewriteRequestPath: (path) => path.replace(/^\/assets/, '') }),
  );

  app.get('/api/jobs', (c) =>
    c.json({
      jobs: registry.names().map((name) => ({ name, description: registry.get(name).description ?? '' })),
    }),
  );

  app.get('/api/runs', async (c) => {
    const job = c.req.query('job');
    const status = c.req.query('status');
    if (job) registry.get(job);
    if (status && !Object.hasOwn(RunStatus, status)) {
      throw new InvalidInputError('unknown status', [`status: one of ${Object.keys(RunStatus).join(', ')}`]);
    }
    const cursor = c.req.query('cursor');
    return c.json(
      await reader.listRunsPage({
        jobs: job ? [job] : registry.names(),
        limit: limitOf(c),
        ...(status ? { status: status as RunStatus } : {}),
        ...(cursor ? { cursor } : {}),
      }),
    );
  });

  app.post('/api/runs', async (c) => {
    const body = StartBody.parse(await c.req.json());
    const started = await client.startRun({ job: body.job, input: body.input ?? {} });
    return c.json(started, 201);
  });

  app.get('/api/runs/:runId', async (c) => {
    const view = await reader.runView(c.req.param('runId'));
    const limit = limitOf(c);
    return c.json({
      run: view.run,
      graph: view.graph,
      planned: view.planned,
      steps: view.steps.slice(0, limit),
      stepCount: view.steps.length,
    });
  });

  app.get('/api/runs/:runId/steps', async (c) => {
    const view = await reader.runView(c.req.param('runId'));
    const offset = Math.max(0, Number(c.req.query('offset') ?? 0) || 0);
    // `group`: the steps of one node of the graph (a collapsed fan-out), by their index.
    const group = c.req.query('group');
    const steps = group
      ? view.steps
          .filter((s) => (view.groups.get(s.key) ?? s.key) === group)
          .sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }))
      : view.steps;
    return c.json({ steps: steps.slice(offset, offset + limitOf(c)), total: steps.length, offset });
  });

  app.get('/api/runs/:runId/events', async (c) => {
    const runId = c.req.param('runId');
    await client.getRun(runId);
    return c.json(await client.listEvents(runId, c.req.query('after') || undefined, limitOf(c)));
  });

  app.get('/api/runs/:runId/timeline', async (c) => {
    const { attempts, complete } = await reader.timeline(c.req.param('runId'));
    const limit = limitOf(c);
    return c.json({ attempts: attempts.slice(0, limit), total: attempts.length, complete });
  });

  app.get('/api/runs/:runId/steps/:key', async (c) =>
    c.json(await reader.stepView(c.req.param('runId'), c.req.param('key'))),
  );

  app.get('/api/runs/:runId/steps/:key/output', async (c) =>
    c.json(await reader.outputOf(c.req.param('runId'), c.req.param('key'))),
  );

  app.post('/api/runs/:runId/cancel', async (c) => {
    // No body (or not JSON) is a cancel without a reason.
    const body = CancelBody.parse(await c.req.json().catch(() => ({})));
    return c.json(await client.cancelRun(c.req.param('runId'), body));
  });

  app.post('/api/runs/:runId/rerun', async (c) => {
    const body = RerunBody.parse(await c.req.json());
    return c.json(await client.rerun(c.req.param('runId'), body), 201);
  });

  app.get('/api/queues', async (c) => c.json({ queues: await queues.stats() }));

  app.post('/api/queues/:name/redrive', async (c) => {
    // No body (or not JSON) is a redrive of every message.
    const body = RedriveBody.parse(await c.req.json().catch(() => ({})));
    return c.json(await queues.redrive(c.req.param('name'), body.max));
  });

  app.get('/api/live/runs', (c) => liveRuns(c, reader, registry, pollMs));
  app.get('/api/live/runs/:runId', (c) => liveRun(c, client, c.req.param('runId'), pollMs));

  return app;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
