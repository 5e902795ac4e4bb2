import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Log } from '../lib/log.ts';
import { listenOnLoopback, readBody } from './http.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/** An error an emulated AWS JSON API returns as `{ __type, message }` with a status code. */
export class ApiServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

export interface JsonApiOptions {
  /** For logs. */
  readonly name: string;
  /** `X-Amz-Target` prefix, e.g. `AWSStepFunctions.`. */
  readonly targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`, as the SDK's protocol expects. */
  readonly contentType: string;
  readonly operations: Record<string, (body: Record<string, unknown>) => unknown>;
  readonly log: Log;
}

/**
 * Serve an AWS JSON-protocol API (POST, operation in `X-Amz-Target`) on 127.0.0.1 and a
 * free port, so SDK clients and the AWS CLI reach the embedded stack with an endpoint URL.
 */
export async function startJsonApiServer(
  options: JsonApiOptions,
): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.log.error(`${options.name} endpoint failed`, { error });
      if (!response.headersSent)
        send(options, response, 500, { __type: 'InternalFailure', message: String(error) });
    });
  });
  return { server, endpoint: await listenOnLoopback(server) };
}

async function handle(
  options: JsonApiOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(options.targetPrefix)
    ? options.operations[target.slice(options.targetPrefix.length)]
    : undefined;
  if (request.method !== 'POST' || !operation) {
    request.resume();
    send(options, response, 400, {
      __type: 'UnknownOperationException',
      message: `${target || 'request without X-Amz-Target'} is not supported by the embedded stack; supported: ${Object.keys(options.operations).join(', ')}`,
    });
    return;
  }
  let body: Record<string, unknown>;
  try {
    const raw = (await readBody(request, MAX_BODY_BYTES)).toString('utf8');
    body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } catch (error) {
    send(options, response, 400, { __type: 'SerializationException', message: (error as Error).message });
    return;
  }
  try {
    send(options, response, 200, (await operation(body)) ?? {});
  } catch (error) {
    if (!(error instanceof ApiServiceError)) throw error;
    send(options, response, error.statusCode, { __type: error.type, message: error.message });
  }
}

function send(options: JsonApiOptions, response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': options.contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
  });
  response.end(text);
}
