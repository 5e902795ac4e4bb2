import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { QueueInspector } from '../../lib/client/queueInspector.ts';
import type { Target } from '../target.ts';
import { createUiApp } from './app.ts';

/** Addresses only this machine reaches, and the names a browser sends for them as Host. */
const LOOPBACK: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '::1']);
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export interface UiServer {
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

export interface UiServerOptions {
  /** 127.0.0.1 unless the user asks for more (`--host`). */
  readonly host?: string;
  /** 0: a free port. */
  readonly port?: number;
  readonly pollMs?: number;
}

/** Serve the UI for a target (its client, jobs and queues) until closed. */
export async function startUiServer(
  target: Pick<Target, 'client' | 'deps'>,
  options: UiServerOptions = {},
): Promise<UiServer> {
  const token = randomBytes(24).toString('base64url');
  const host = options.host ?? '127.0.0.1';
  let allowed: ReadonlySet<string> | undefined;
  const app = createUiApp({
    // On loopback, only requests addressed to it; a wider --host serves any name.
    allowedHosts: () => allowed,
    client: target.client,
    registry: target.deps.registry,
    queues: new QueueInspector(target.deps.aws.sqs, target.deps.config.queues),
    token,
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  if (LOOPBACK.has(host)) allowed = new Set(LOOPBACK_NAMES.map((name) => `${name}:${port}`));
  return {
    url: `http://${shown}:${port}/`,
    token,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Live streams stay open: end them with the server.
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
