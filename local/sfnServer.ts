import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from '../lib/log.ts';
import { type Execution, type LocalStepFunctions, SfnServiceError } from './stepFunctions.ts';

type Body = Record<string, unknown>;
type Operation = (sfn: LocalStepFunctions, body: Body) => unknown;

/** Step Functions speaks AWS JSON 1.0: POST /, `X-Amz-Target: AWSStepFunctions.<Operation>`, dates as epoch seconds. */
const TARGET_PREFIX = 'AWSStepFunctions.';
const MAX_BODY_BYTES = 1024 * 1024;

const epoch = (date: Date | undefined) => (date ? date.getTime() / 1000 : undefined);

function summary(e: Execution) {
  return {
    executionArn: e.executionArn,
    stateMachineArn: e.stateMachineArn,
    name: e.name,
    status: e.status,
    startDate: epoch(e.startDate),
    stopDate: epoch(e.stopDate),
  };
}

/** Cursor pagination over an in-memory list; the token is the next index. */
function page<T>(items: T[], body: Body): { items: T[]; nextToken?: string } {
  const start = body.nextToken ? Number.parseInt(String(body.nextToken), 10) : 0;
  if (!Number.isInteger(start) || start < 0)
    throw new SfnServiceError('InvalidToken', `Invalid Token: '${body.nextToken}'`);
  const max = Number(body.maxResults) || 100;
  if (max < 1 || max > 1000)
    throw new SfnServiceError('ValidationException', 'maxResults must be between 1 and 1000');
  const slice = items.slice(start, start + max);
  return start + max < items.length ? { items: slice, nextToken: String(start + max) } : { items: slice };
}

function requiredString(body: Body, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || !value) {
    throw new SfnServiceError(
      'ValidationException',
      `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

const OPERATIONS: Record<string, Operation> = {
  StartExecution(sfn, body) {
    const input = body.input === undefined ? undefined : String(body.input);
    const name = body.name === undefined ? undefined : String(body.name);
    const execution = sfn.startExecution(requiredString(body, 'stateMachineArn'), input, name);
    return { executionArn: execution.executionArn, startDate: epoch(execution.startDate) };
  },
  DescribeExecution(sfn, body) {
    const e = sfn.describeExecution(requiredString(body, 'executionArn'));
    return {
      ...summary(e),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined && { output: e.output, outputDetails: { included: true } }),
      ...(e.error !== undefined && { error: e.error }),
      ...(e.cause !== undefined && { cause: e.cause }),
    };
  },
  StopExecution(sfn, body) {
    const error = body.error === undefined ? undefined : String(body.error);
    const cause = body.cause === undefined ? undefined : String(body.cause);
    return { stopDate: epoch(sfn.stopExecution(requiredString(body, 'executionArn'), error, cause)) };
  },
  ListExecutions(sfn, body) {
    const filter = body.statusFilter === undefined ? undefined : String(body.statusFilter);
    const { items, nextToken } = page(
      sfn.listExecutions(requiredString(body, 'stateMachineArn'), filter),
      body,
    );
    return { executions: items.map(summary), nextToken };
  },
  GetExecutionHistory(sfn, body) {
    const events = [...sfn.describeExecution(requiredString(body, 'executionArn')).events];
    if (body.reverseOrder === true) events.reverse();
    const { items, nextToken } = page(events, body);
    return { events: items.map((e) => ({ ...e, timestamp: epoch(e.timestamp) })), nextToken };
  },
  ListStateMachines(sfn, body) {
    const { items, nextToken } = page(sfn.listStateMachines(), body);
    return {
      stateMachines: items.map((m) => ({
        stateMachineArn: m.arn,
        name: m.name,
        type: 'STANDARD',
        creationDate: epoch(m.creationDate),
      })),
      nextToken,
    };
  },
  DescribeStateMachine(sfn, body) {
    const { arn, spec, creationDate } = sfn.describeStateMachine(requiredString(body, 'stateMachineArn'));
    return {
      stateMachineArn: arn,
      name: spec.name,
      status: 'ACTIVE',
      definition: spec.definition,
      roleArn: spec.roleArn,
      type: 'STANDARD',
      creationDate: epoch(creationDate),
    };
  },
};

export const SUPPORTED_OPERATIONS = Object.keys(OPERATIONS);

/** Serve the Step Functions API on 127.0.0.1 and a free port. Returns the server and its endpoint. */
export async function startSfnServer(
  sfn: LocalStepFunctions,
  log: Log,
): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((request, response) => {
    handle(sfn, request, response).catch((error: unknown) => {
      log.error('step functions endpoint failed', { error });
      if (!response.headersSent) send(response, 500, { __type: 'InternalFailure', message: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

async function handle(
  sfn: LocalStepFunctions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(TARGET_PREFIX)
    ? OPERATIONS[target.slice(TARGET_PREFIX.length)]
    : undefined;
  if (request.method !== 'POST' || !operation) {
    request.resume();
    send(response, 400, {
      __type: 'UnknownOperationException',
      message: `${target || 'request without X-Amz-Target'} is not supported by the embedded stack; supported: ${SUPPORTED_OPERATIONS.join(', ')}`,
    });
    return;
  }
  let body: Body;
  try {
    const raw = await readBody(request);
    body = raw ? (JSON.parse(raw) as Body) : {};
  } catch (error) {
    send(response, 400, { __type: 'SerializationException', message: (error as Error).message });
    return;
  }
  try {
    send(response, 200, operation(sfn, body) ?? {});
  } catch (error) {
    if (!(error instanceof SfnServiceError)) throw error;
    send(response, error.statusCode, { __type: error.type, message: error.message });
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
  });
  response.end(text);
}
