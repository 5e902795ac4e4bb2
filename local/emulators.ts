import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { listenOnLoopback } from './http.ts';
import { SqsTraceHeaders } from './sqsTraceHeaders.ts';

/** A started emulator: where it listens, and how to stop it. */
export interface RunningEmulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** SQS and S3 (fauxqs) on 127.0.0.1 and a free port. */
export async function startFauxqs(): Promise<RunningEmulator> {
  // startFauxqs() would bind 0.0.0.0; build the app and listen on loopback only.
  const app = buildApp({ logger: false });
  // fauxqs 1.9.2 drops the AWSTraceHeader system attribute, which recursive loop detection reads.
  new SqsTraceHeaders().install(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => app.close() };
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
