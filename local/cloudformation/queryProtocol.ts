import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Log } from '../../lib/log.ts';
import { listenOnLoopback, readBody } from '../http.ts';

/**
 * AWS's query protocol (awsquery), as CloudFormation and STS speak it: a form-encoded POST
 * with `Action` and flattened parameters (`Parameters.member.1.ParameterKey`), answered with
 * `<ActionResponse><ActionResult>...</ActionResult></ActionResponse>` XML, and errors as
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error></ErrorResponse>`.
 */

/** An error a query-protocol API answers with (the SDKs read `Code` as the error's name). */
export class QueryApiError extends Error {
  override readonly name = 'QueryApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/** A request's flattened parameters, with readers for AWS's list and map encodings. */
export class QueryParams {
  constructor(private readonly params: URLSearchParams) {}

  get(name: string): string | undefined {
    return this.params.get(name) ?? undefined;
  }

  required(name: string): string {
    const value = this.get(name);
    if (value === undefined || value === '') {
      throw new QueryApiError(
        'ValidationError',
        `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`,
      );
    }
    return value;
  }

  /** `Name.member.1`, `Name.member.2`, ... as strings. */
  list(name: string): string[] {
    const values: string[] = [];
    for (let i = 1; this.params.has(`${name}.member.${i}`); i++) {
      values.push(this.params.get(`${name}.member.${i}`) as string);
    }
    return values;
  }

  /** `Name.member.1.Key`, ... as one record per member. */
  structs(name: string): Record<string, string>[] {
    const members: Record<string, string>[] = [];
    for (let i = 1; ; i++) {
      const prefix = `${name}.member.${i}.`;
      const member: Record<string, string> = {};
      for (const [key, value] of this.params) {
        if (key.startsWith(prefix)) member[key.slice(prefix.length)] = value;
      }
      if (Object.keys(member).length === 0) return members;
      members.push(member);
    }
  }
}

/** An operation's answer: the content of its `<ActionResult>` element. */
export type QueryResult = Record<string, XmlValue> | undefined;
export type XmlValue =
  | string
  | number
  | boolean
  | Date
  | undefined
  | XmlValue[]
  | { [key: string]: XmlValue };

export type QueryOperation = (params: QueryParams) => QueryResult | Promise<QueryResult>;

export interface QueryApiOptions {
  /** For logs and messages: `CloudFormation`, `STS`. */
  readonly name: string;
  /** The API's XML namespace, e.g. `http://cloudformation.amazonaws.com/doc/2010-05-15/`. */
  readonly xmlns: string;
  readonly operations: Readonly<Record<string, QueryOperation>>;
  readonly log: Log;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Serve a query-protocol API on 127.0.0.1 and a free port (the IAM gateway routes to it). */
export async function startQueryApiServer(
  options: QueryApiOptions,
): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((request, response) => {
    handle(options, request, response).catch((error: unknown) => {
      options.log.error(`${options.name} endpoint failed`, { error });
      if (!response.headersSent)
        sendError(options, response, new QueryApiError('InternalFailure', String(error), 500));
    });
  });
  return { server, endpoint: await listenOnLoopback(server) };
}

async function handle(
  options: QueryApiOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://api');
  const body = (await readBody(request, MAX_BODY_BYTES)).toString('utf8');
  const params = new URLSearchParams(body);
  for (const [key, value] of url.searchParams) if (!params.has(key)) params.set(key, value);
  const action = params.get('Action') ?? '';
  const operation = options.operations[action];
  if (!operation) {
    options.log.warn(`${options.name}: operation not served`, { action });
    return sendError(
      options,
      response,
      new QueryApiError(
        'InvalidAction',
        `${options.name} ${action || '(no Action)'} is not served by the embedded stack; it serves ${Object.keys(options.operations).join(', ')}`,
      ),
    );
  }
  options.log.debug(`${options.name} ${action}`, { params: Object.fromEntries(params) });
  try {
    const result = await operation(new QueryParams(params));
    send(
      response,
      200,
      `<${action}Response xmlns="${options.xmlns}">${result ? element(`${action}Result`, result) : ''}${responseMetadata()}</${action}Response>`,
    );
  } catch (error) {
    if (!(error instanceof QueryApiError)) throw error;
    options.log.debug(`${options.name} ${action} refused`, { code: error.code, reason: error.message });
    sendError(options, response, error);
  }
}

function sendError(options: QueryApiOptions, response: ServerResponse, error: QueryApiError): void {
  const type = error.statusCode >= 500 ? 'Receiver' : 'Sender';
  send(
    response,
    error.statusCode,
    `<ErrorResponse xmlns="${options.xmlns}"><Error><Type>${type}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}

function send(response: ServerResponse, status: number, xml: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
  response.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
}

function responseMetadata(): string {
  return `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`;
}

/** `<name>value</name>`; lists as `<member>` items, undefined left out, dates in ISO 8601. */
function element(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  return `<${name}>${content(value)}</${name}>`;
}

function content(value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((item) => element('member', item)).join('');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([key, item]) => element(key, item))
      .join('');
  }
  return escapeXml(String(value));
}

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
