import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { FairQueues } from './fairQueues.ts';
import { listenOnLoopback } from './http.ts';
import { SqsTraceHeaders } from './sqsTraceHeaders.ts';

/** A started emulator: where it listens, and how to stop it. */
export interface RunningEmulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** fauxqs's own store types, which it does not export. */
type FauxqsStores = NonNullable<NonNullable<Parameters<typeof buildApp>[0]>['stores']>;

export interface FauxqsOptions {
  /** Serve standard queues as SQS fair queues do (local/fairQueues.ts); default true. */
  readonly fairQueues?: boolean;
}

/** SQS and S3 (fauxqs) on 127.0.0.1 and a free port; with the fair queues model unless turned off. */
export async function startFauxqs(
  options: FauxqsOptions = {},
): Promise<RunningEmulator & { readonly fairQueues?: FairQueues }> {
  const fairQueues = options.fairQueues === false ? undefined : new FairQueues();
  // startFauxqs() would bind 0.0.0.0; build the app and listen on loopback only.
  const app = buildApp({
    logger: false,
    ...(fairQueues ? { stores: (await fairQueues.stores()) as FauxqsStores } : {}),
  });
  // fauxqs 1.9.2 drops the AWSTraceHeader system attribute, which recursive loop detection reads.
  new SqsTraceHeaders().install(app);
  fairQueues?.install(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () => app.close(),
    ...(fairQueues ? { fairQueues } : {}),
  };
}

/** DynamoDB (dynalite) on 127.0.0.1 and a free port; on disk under `dataDir` when given. */
export async function startDynalite(dataDir: string | undefined): Promise<RunningEmulator> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir && { path: dataDir }),
  });
  return { endpoint: await listenOnLoopback(server), stop: () => closeServer(server) };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections?.();
  });
}
