import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalStackError } from '../lib/errors.ts';

/**
 * Listen on 127.0.0.1 (never 0.0.0.0), on `port` or else a free one; resolves to the server's
 * base URL.
 */
export async function listenOnLoopback(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** A request's whole body, refused past `maxBytes` (the emulated APIs' own limit). */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new LocalStackError(`request body exceeds ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
