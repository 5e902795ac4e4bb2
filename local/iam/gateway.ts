import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Log } from '../../lib/log.ts';
import { listenOnLoopback, readBody } from '../http.ts';
import { PartitionWriteLimits } from '../limits/partitionWriteLimits.ts';
import { SqsInFlightLimits } from '../limits/sqsInFlightLimits.ts';
import type { AccessDenied, IamAuthority, Principal } from './authority.ts';
import { type ApiRequest, authorizationOf, needsBody, type RequestContext } from './requestActions.ts';

export interface GatewayOptions {
  /** Where each service's emulator listens, by SigV4 service name (sqs, s3, dynamodb, states, ecs). */
  readonly upstreams: Readonly<Record<string, string>>;
  readonly authority: IamAuthority;
  readonly context: RequestContext;
  readonly log: Log;
  /** DynamoDB's per-partition write limit, when the stack emulates it (local/limits/). */
  readonly partitionWriteLimits?: PartitionWriteLimits;
  /** SQS's in-flight limit per queue, when the stack emulates it (local/limits/). */
  readonly sqsInFlightLimits?: SqsInFlightLimits;
  /** The port to listen on (LocalStack's edge port, 4566, for tools that assume it); default a free one. */
  readonly port?: number;
}

/** The parts of a SigV4 credential scope the gateway needs. */
interface Scope {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * The embedded stack's one endpoint in front of its emulators, as AWS's front door is:
 * it routes each request by its signature's service, knows the caller by its access
 * key, and refuses what the caller's role does not allow with each protocol's own
 * AccessDenied, before the emulator sees it. Signatures are read, not verified (the
 * keys are local and issued by the stack itself).
 */
export async function startIamGateway(
  options: GatewayOptions,
): Promise<{ server: Server; endpoint: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const server = createServer((request, response) => {
    handle(options, agent, request, response).catch((error: unknown) => {
      // An emulator that went away (the stack stopping) is the caller's 503, not the gateway's fault.
      const code = (error as NodeJS.ErrnoException).code;
      const gone = code === 'ECONNRESET' || code === 'ECONNREFUSED';
      if (gone) options.log.debug('IAM gateway: upstream closed', { url: request.url, code });
      else options.log.error('IAM gateway: request failed', { error, url: request.url });
      if (!response.headersSent) response.writeHead(gone ? 503 : 502, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });
  server.keepAliveTimeout = 65_000;
  const endpoint = await listenOnLoopback(server, options.port);
  server.once('close', () => agent.destroy());
  return { server, endpoint };
}

async function handle(
  options: GatewayOptions,
  agent: Agent,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://gateway');
  const scope = scopeOf(request, url);
  if (!scope) {
    request.resume();
    return sendJson(response, 403, 'application/json', {
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  }
  const upstream = options.upstreams[scope.service];
  if (!upstream) {
    // Logged with its action, so a tool that needs an API the stack lacks says which call it made.
    const action = await actionOf(request, url);
    options.log.warn('gateway: no such service here', {
      api: scope.service,
      action,
      // The embedded stack provisions itself; an empty account takes deployments.
      ...(scope.service === 'cloudformation' && { hint: 'for sls deploy, start `lambdag local up --empty`' }),
    });
    return sendJson(response, 400, 'application/json', {
      __type: 'UnknownOperationException',
      message: `the embedded stack has no ${scope.service} API (it has ${Object.keys(options.upstreams).join(', ')}); ${action} was not served`,
    });
  }
  const principal = options.authority.principalOf(scope.accessKeyId);
  if (!principal) {
    request.resume();
    return sendJson(response, 403, 'application/x-amz-json-1.0', {
      __type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
  }
  const method = request.method ?? 'GET';
  const target = request.headers['x-amz-target'] as string | undefined;
  const limits =
    scope.service === 'dynamodb' && PartitionWriteLimits.isWrite(target)
      ? options.partitionWriteLimits
      : undefined;
  const inFlight =
    scope.service === 'sqs' && SqsInFlightLimits.follows(target) ? options.sqsInFlightLimits : undefined;
  if (principal === 'admin' && !limits && !inFlight) return forward(agent, upstream, request, response);

  let body =
    limits || inFlight || needsBody(scope.service, method, url.searchParams)
      ? await readBody(request, MAX_BODY_BYTES)
      : undefined;
  let missingObject: (() => AccessDenied | undefined) | undefined;
  if (principal !== 'admin') {
    const checked = authorizeRequest(options, principal, scope, method, url, request, response, body);
    if (!checked) return;
    missingObject = checked.missingObject;
  }
  // Throttled after the policy check, as AWS does: a refused request spends no capacity.
  let unprocessed: Record<string, unknown[]> | undefined;
  if (limits && body && target) {
    const admission = limits.admit(target, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    if (admission.kind === 'throttled') {
      return sendJson(response, 400, 'application/x-amz-json-1.0', {
        __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
        message: admission.message,
      });
    }
    if (admission.kind === 'partial') {
      body = Buffer.from(JSON.stringify(admission.body));
      unprocessed = admission.unprocessed;
    }
  }
  if (inFlight && body && target) {
    // A receive held at the limit (a long poll) ends when its caller goes away.
    const caller = new AbortController();
    response.once('close', () => caller.abort());
    const admission = await inFlight.admit(target, body, caller.signal);
    if (admission.kind === 'answer') {
      const { status, body: answer, headers } = admission;
      return sendJson(response, status, 'application/x-amz-json-1.0', answer, headers);
    }
    const { settle } = admission;
    if (settle) {
      try {
        return await forward(agent, upstream, request, response, { body: admission.body, onAnswer: settle });
      } finally {
        settle(undefined, undefined); // a no-op once answered: the reservation ends either way
      }
    }
  }
  return forward(agent, upstream, request, response, { body, missingObject, unprocessed });
}

/**
 * The caller's policy against the request: undefined when refused (the answer is sent),
 * else how to answer a missing S3 object.
 */
function authorizeRequest(
  options: GatewayOptions,
  principal: Principal,
  scope: Scope,
  method: string,
  url: URL,
  request: IncomingMessage,
  response: ServerResponse,
  body: Buffer | undefined,
): { missingObject?: () => AccessDenied | undefined } | undefined {
  const apiRequest: ApiRequest = {
    service: scope.service,
    region: scope.region,
    accountId: options.authority.accountId,
    method,
    path: decodeURIComponent(url.pathname),
    query: url.searchParams,
    headers: request.headers,
    ...(body && { body }),
  };
  const operation = authorizationOf(apiRequest, options.context);
  if (typeof operation === 'string') {
    request.resume();
    sendJson(response, 400, 'application/json', { __type: 'UnknownOperationException', message: operation });
    return undefined;
  }
  const denied = options.authority.authorize(principal, operation.operation, operation.checks);
  if (denied) {
    request.resume();
    options.log.warn(`IAM: access denied: ${denied.message}`, { operation: operation.operation });
    sendDenied(scope.service, method, response, denied);
    return undefined;
  }
  return operation.operation === 'S3.GetObject' || operation.operation === 'S3.HeadObject'
    ? { missingObject: () => listBucketDenied(options.authority, principal, apiRequest) }
    : {};
}

/**
 * S3 answers a missing key with 404 only to callers that may list the bucket; to the
 * others it is 403 AccessDenied, so they cannot probe which keys exist.
 */
function listBucketDenied(
  authority: IamAuthority,
  principal: Principal,
  request: ApiRequest,
): AccessDenied | undefined {
  const bucket = request.path.replace(/^\//, '').split('/')[0] ?? '';
  return authority.authorize(principal, 'S3.GetObject(missing key)', [
    {
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${bucket}`,
      context: { 'aws:SecureTransport': 'true' },
    },
  ]);
}

/** A request's operation, for the log: its X-Amz-Target, its query protocol Action, or its method and path. */
async function actionOf(request: IncomingMessage, url: URL): Promise<string> {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') {
    request.resume();
    return target;
  }
  const body = (await readBody(request, MAX_BODY_BYTES)).toString('utf8');
  const action = url.searchParams.get('Action') ?? new URLSearchParams(body).get('Action');
  return action ?? `${request.method ?? 'GET'} ${url.pathname}`;
}

function scopeOf(request: IncomingMessage, url: URL): Scope | undefined {
  const authorization = String(request.headers.authorization ?? '');
  const credential =
    /Credential=([^,\s]+)/.exec(authorization)?.[1] ?? url.searchParams.get('X-Amz-Credential') ?? undefined;
  if (!credential) return undefined;
  const [accessKeyId, , region, service] = credential.split('/');
  if (!accessKeyId || !region || !service) return undefined;
  return { accessKeyId, region, service };
}

interface ForwardOptions {
  /** The body read (and perhaps rewritten) here; else the request is streamed. */
  readonly body?: Buffer | undefined;
  readonly missingObject?: (() => AccessDenied | undefined) | undefined;
  readonly unprocessed?: Record<string, unknown[]> | undefined;
  /** Sees the emulator's whole answer before the caller does. */
  readonly onAnswer?: ((status: number, answer: Buffer) => void) | undefined;
}

function forward(
  agent: Agent,
  upstream: string,
  request: IncomingMessage,
  response: ServerResponse,
  { body, missingObject: onMissing, unprocessed, onAnswer }: ForwardOptions = {},
): Promise<void> {
  const target = new URL(upstream);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        // Host stays the gateway's: fauxqs builds queue URLs from it, so they point back here.
        headers: body ? withLength(request.headers, body) : request.headers,
        agent,
      },
      (incoming) => {
        const denied = incoming.statusCode === 404 ? onMissing?.() : undefined;
        if (denied) {
          incoming.resume();
          sendS3Denied(request.method ?? 'GET', response, 'Access Denied');
          resolve();
          return;
        }
        if (unprocessed && incoming.statusCode === 200) {
          addUnprocessedItems(incoming, response, unprocessed).then(resolve, reject);
          return;
        }
        if (onAnswer) {
          readBody(incoming, MAX_BODY_BYTES).then((answer) => {
            onAnswer(incoming.statusCode ?? 502, answer);
            response.writeHead(incoming.statusCode ?? 502, incoming.headers);
            response.end(answer);
            resolve();
          }, reject);
          return;
        }
        response.writeHead(incoming.statusCode ?? 502, incoming.headers);
        incoming.pipe(response);
        incoming.once('end', resolve);
        incoming.once('error', reject);
      },
    );
    outgoing.once('error', reject);
    if (body) outgoing.end(body);
    else request.pipe(outgoing);
  });
}

/** The request's headers for a body read (and perhaps rewritten) here: its length, not chunked. */
function withLength(headers: IncomingMessage['headers'], body: Buffer): IncomingMessage['headers'] {
  const { 'transfer-encoding': _chunked, ...rest } = headers;
  return { ...rest, 'content-length': String(body.length) };
}

/** A BatchWriteItem's answer with the writes the limit held back added to its UnprocessedItems. */
async function addUnprocessedItems(
  incoming: IncomingMessage,
  response: ServerResponse,
  unprocessed: Record<string, unknown[]>,
): Promise<void> {
  const answer = JSON.parse((await readBody(incoming, MAX_BODY_BYTES)).toString('utf8')) as {
    UnprocessedItems?: Record<string, unknown[]>;
  };
  const merged = { ...answer.UnprocessedItems };
  for (const [table, writes] of Object.entries(unprocessed))
    merged[table] = [...(merged[table] ?? []), ...writes];
  // The emulator's CRC32 no longer matches the body; the SDK checks it only when present.
  const { 'x-amz-crc32': _crc, 'content-length': _length, ...headers } = incoming.headers;
  const text = JSON.stringify({ ...answer, UnprocessedItems: merged });
  response.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** Each protocol's AccessDenied, as the SDKs parse it into AccessDeniedException / AccessDenied. */
function sendDenied(service: string, method: string, response: ServerResponse, denied: AccessDenied): void {
  const message = denied.message;
  switch (service) {
    case 's3':
      sendS3Denied(method, response, message);
      return;
    case 'dynamodb':
      sendJson(response, 400, 'application/x-amz-json-1.0', {
        __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException',
        message,
      });
      return;
    case 'sqs':
      sendJson(
        response,
        400,
        'application/x-amz-json-1.0',
        { __type: 'com.amazon.coral.service#AccessDeniedException', message },
        { 'x-amzn-query-error': 'AccessDenied;Sender' },
      );
      return;
    case 'ecs':
      sendJson(response, 400, 'application/x-amz-json-1.1', {
        __type: 'AccessDeniedException',
        message,
      });
      return;
    default:
      sendJson(response, 400, 'application/x-amz-json-1.0', {
        __type: 'AccessDeniedException',
        message,
      });
  }
}

function sendS3Denied(method: string, response: ServerResponse, message: string): void {
  const requestId = randomUUID();
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${escapeXml(message)}</Message><RequestId>${requestId}</RequestId></Error>`;
  response.writeHead(403, {
    'content-type': 'application/xml',
    'x-amz-request-id': requestId,
    ...(method === 'HEAD' ? {} : { 'content-length': Buffer.byteLength(xml) }),
  });
  response.end(method === 'HEAD' ? undefined : xml);
}

function sendJson(
  response: ServerResponse,
  status: number,
  contentType: string,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  response.end(text);
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
