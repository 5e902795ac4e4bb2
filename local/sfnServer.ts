import type { Server } from 'node:http';
import type { Log } from '../lib/log.ts';
import { startJsonApiServer } from './jsonApiServer.ts';
import { type Execution, type LocalStepFunctions, SfnServiceError } from './stepFunctions.ts';

type Body = Record<string, unknown>;
type Operation = (sfn: LocalStepFunctions, body: Body) => unknown;

/** Step Functions speaks AWS JSON 1.0: POST /, `X-Amz-Target: AWSStepFunctions.<Operation>`, dates as epoch seconds. */
const TARGET_PREFIX = 'AWSStepFunctions.';

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
export function startSfnServer(
  sfn: LocalStepFunctions,
  log: Log,
): Promise<{ server: Server; endpoint: string }> {
  return startJsonApiServer({
    name: 'step functions',
    targetPrefix: TARGET_PREFIX,
    contentType: 'application/x-amz-json-1.0',
    operations: Object.fromEntries(
      Object.entries(OPERATIONS).map(([name, operation]) => [name, (body: Body) => operation(sfn, body)]),
    ),
    log,
  });
}
