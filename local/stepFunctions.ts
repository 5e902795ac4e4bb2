/**
 * Over 400 lines on purpose: the Step Functions service as clients see it (start by name and
 * input, describe, stop, history, timeouts, status-change events) around the one engine
 * adapter, kept together because each API's semantics depend on the execution record.
 */
import './polyfills.ts';
import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import type { Log } from '../lib/log.ts';
import type { BusEntry } from './eventBridge.ts';
import { ApiServiceError } from './jsonApiServer.ts';
import { type LocalTaskFunction, lambdaContext } from './lambdaContext.ts';

/** An AWS Step Functions API error: `type` is the AWS error code clients match on. */
export class SfnServiceError extends ApiServiceError {
  override readonly name = 'SfnServiceError';
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A history event in the shape of GetExecutionHistory. */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  readonly [details: string]: unknown;
}

export interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  readonly events: HistoryEvent[];
  /** Settles when the execution has ended, whatever the outcome. */
  readonly done: Promise<void>;
}

export type { LocalTaskFunction, TaskFunction } from './lambdaContext.ts';

export interface StateMachineSpec {
  readonly name: string;
  /** ASL with every Task's Resource already a function ARN. */
  readonly definition: string;
  readonly roleArn: string;
  /** Lambda functions by ARN; each Task state runs the one its Resource names, in-process. */
  readonly functions: ReadonlyMap<string, LocalTaskFunction>;
  /** Replaces every Wait state's duration (ms): the emulator need not idle for real seconds. */
  readonly waitMs?: number;
  /** Replaces every Retry interval (ms). */
  readonly retryMs?: number;
  /**
   * Asks the machine's role whether it may do `action` on `resource` (lambda:InvokeFunction
   * before a task, states:StartExecution before continue-as-new); returns the denial's message.
   */
  readonly authorize?: (action: string, resource: string) => string | undefined;
}

interface Machine {
  readonly spec: StateMachineSpec;
  readonly arn: string;
  readonly creationDate: Date;
  readonly engine: StateMachine;
  readonly taskHandlers: Record<string, (input: unknown) => Promise<unknown>>;
  readonly waits: Record<string, number>;
  readonly retries: Record<string, number>;
}

interface RunningExecution extends Execution {
  abort?: () => void;
}

const START_EXECUTION = 'arn:aws:states:::states:startExecution';

/** Names Step Functions refuses: whitespace, brackets, wildcards, special and control characters. */
const BAD_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const hasControlCharacter = (name: string) =>
  [...name].some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));

/**
 * Step Functions for the embedded stack: standard workflows executed by
 * aws-local-stepfunctions, with the semantics clients rely on (idempotent
 * StartExecution by name and input, StopExecution, history, Lambda-shaped task
 * errors). The HTTP API in sfnServer.ts is a thin layer over this.
 */
export class LocalStepFunctions {
  private readonly machines = new Map<string, Machine>();
  private readonly executions = new Map<string, RunningExecution>();
  private statusSink: ((entry: BusEntry) => void) | undefined;

  constructor(
    private readonly region: string,
    private readonly accountId: string,
    private readonly log: Log,
  ) {}

  /**
   * Send every execution status change to `sink` (the local event bus), as Step Functions
   * sends "Step Functions Execution Status Change" events of standard workflows to
   * EventBridge's default bus.
   */
  publishStatusChanges(sink: (entry: BusEntry) => void): void {
    this.statusSink = sink;
  }

  createStateMachine(spec: StateMachineSpec): string {
    const arn = `arn:aws:states:${this.region}:${this.accountId}:stateMachine:${spec.name}`;
    const definition = JSON.parse(spec.definition) as StateMachineDefinition;
    const taskHandlers: Machine['taskHandlers'] = {};
    const waits: Record<string, number> = {};
    const retries: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type === 'Wait' && spec.waitMs !== undefined) waits[stateName] = spec.waitMs;
      if ('Retry' in state && state.Retry && spec.retryMs !== undefined) retries[stateName] = spec.retryMs;
      if (state.Type !== 'Task') continue;
      if (state.Resource === START_EXECUTION) {
        taskHandlers[stateName] = async (input) => this.startExecutionTask(input, spec.authorize);
        continue;
      }
      const fn = spec.functions.get(state.Resource);
      if (!fn)
        throw new SfnServiceError('InvalidDefinition', `state ${stateName}: no function ${state.Resource}`);
      taskHandlers[stateName] = async (input) => {
        const denied = spec.authorize?.('lambda:InvokeFunction', fn.functionArn);
        // As Step Functions reports a Lambda invoke its role may not make.
        if (denied)
          throw namedError('Lambda.AWSLambdaException', `${denied} (Service: Lambda, Status Code: 403)`);
        return invokeLambda(fn, input);
      };
    }
    const engine = new StateMachine(definition, { validationOptions: { checkArn: false } });
    this.machines.set(arn, { spec, arn, creationDate: new Date(), engine, taskHandlers, waits, retries });
    return arn;
  }

  startExecution(stateMachineArn: string, input = '{}', name: string = randomUUID()): Execution {
    const machine = this.machine(stateMachineArn);
    if (name.length < 1 || name.length > 80 || BAD_NAME.test(name) || hasControlCharacter(name)) {
      throw new SfnServiceError('InvalidName', `Invalid Name: '${name}'`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      throw new SfnServiceError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: ${(error as Error).message}`,
      );
    }
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${machine.spec.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // As on AWS for standard workflows: the same name and input while running is the same start.
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new SfnServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    return this.launch(machine, executionArn, name, input, parsed);
  }

  /**
   * The `arn:aws:states:::states:startExecution` service integration (request-response):
   * its parameters and result are the API's, its errors `StepFunctions.<Code>Exception`.
   */
  private startExecutionTask(raw: unknown, authorize: StateMachineSpec['authorize']): unknown {
    const params = raw as { StateMachineArn?: string; Name?: string; Input?: unknown };
    const input = typeof params.Input === 'string' ? params.Input : JSON.stringify(params.Input ?? {});
    const denied = authorize?.('states:StartExecution', String(params.StateMachineArn));
    if (denied) throw namedError('StepFunctions.AccessDeniedException', denied);
    try {
      const execution = this.startExecution(String(params.StateMachineArn), input, params.Name);
      return { ExecutionArn: execution.executionArn, StartDate: execution.startDate.toISOString() };
    } catch (error) {
      if (!(error instanceof SfnServiceError)) throw error;
      const reported = new Error(error.message);
      reported.name = `StepFunctions.${error.type}Exception`;
      throw reported;
    }
  }

  describeExecution(executionArn: string): Execution {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new SfnServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Date {
    const execution = this.describeExecution(executionArn) as RunningExecution;
    if (execution.status === 'RUNNING') {
      const abort = execution.abort;
      this.close(execution, 'ABORTED', { error, cause });
      push(execution, 'ExecutionAborted', {
        executionAbortedEventDetails: { ...(error && { error }), ...(cause && { cause }) },
      });
      abort?.();
    }
    return execution.stopDate ?? new Date();
  }

  listExecutions(stateMachineArn: string, statusFilter?: string): Execution[] {
    this.machine(stateMachineArn);
    return [...this.executions.values()]
      .filter((e) => e.stateMachineArn === stateMachineArn && (!statusFilter || e.status === statusFilter))
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  listStateMachines(): { arn: string; name: string; creationDate: Date }[] {
    return [...this.machines.values()].map((m) => ({
      arn: m.arn,
      name: m.spec.name,
      creationDate: m.creationDate,
    }));
  }

  describeStateMachine(stateMachineArn: string): { arn: string; spec: StateMachineSpec; creationDate: Date } {
    const machine = this.machine(stateMachineArn);
    return { arn: machine.arn, spec: machine.spec, creationDate: machine.creationDate };
  }

  /**
   * DeleteStateMachine: the machine is gone for new executions; running ones are stopped, as
   * Step Functions stops them when their state machine is deleted.
   */
  deleteStateMachine(stateMachineArn: string): void {
    this.machines.delete(stateMachineArn);
    for (const execution of this.executions.values()) {
      if (execution.stateMachineArn === stateMachineArn && execution.status === 'RUNNING')
        this.stopExecution(execution.executionArn, 'States.StateMachineDeleted');
    }
  }

  /** Stop every running execution (the stack is shutting down) and wait for them to settle. */
  async stopAll(): Promise<void> {
    // The stack shutting down is not a StopExecution: its executions' ends are not events.
    this.statusSink = undefined;
    const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    for (const execution of running) this.stopExecution(execution.executionArn, 'lambdag.LocalStackStopped');
    await Promise.all(running.map((e) => e.done));
  }

  private machine(arn: string): Machine {
    const machine = this.machines.get(arn);
    if (!machine)
      throw new SfnServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private launch(
    machine: Machine,
    executionArn: string,
    name: string,
    input: string,
    parsed: unknown,
  ): Execution {
    const startDate = new Date();
    const run = machine.engine.run(parsed as never, {
      overrides: {
        taskResourceLocalHandlers: machine.taskHandlers as never,
        waitTimeOverrides: machine.waits,
        retryIntervalOverrides: machine.retries,
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          Input: parsed as never,
          StartTime: startDate.toISOString(),
          RoleArn: machine.spec.roleArn,
        },
        StateMachine: { Id: machine.arn, Name: machine.spec.name },
      },
    });
    const execution: RunningExecution = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      input,
      startDate,
      status: 'RUNNING',
      events: [],
      abort: run.abort,
      done: Promise.resolve(),
    };
    this.executions.set(executionArn, execution);
    this.publishStatus(execution);
    const history = (async () => {
      for await (const event of run.eventLogs) {
        const mapped = historyEventOf(event as unknown as LocalEvent, machine.spec.roleArn);
        if (mapped) push(execution, mapped.type, mapped.details, event.timestamp);
      }
    })();
    const outcome = run.result.then(
      (output) => {
        this.close(execution, 'SUCCEEDED', { output: JSON.stringify(output) });
      },
      (error: unknown) => {
        if (error instanceof ExecutionAbortedError) return;
        // The definition's top-level TimeoutSeconds passed.
        if (error instanceof ExecutionTimeoutError) {
          this.close(execution, 'TIMED_OUT');
          return;
        }
        const cause = error instanceof ExecutionError ? (error.cause as Error) : (error as Error);
        const failure = { error: cause?.name ?? 'States.Runtime', cause: cause?.message };
        this.close(execution, cause?.name === 'States.Timeout' ? 'TIMED_OUT' : 'FAILED', failure);
        this.log.debug('execution failed', { executionArn, ...failure });
      },
    );
    // Not the history: the library's event log is not closed when an execution is aborted.
    (execution as { done: Promise<void> }).done = outcome;
    history.catch((error: unknown) => this.log.warn('execution history incomplete', { executionArn, error }));
    return execution;
  }

  /** The first ending wins: a stopped execution stays ABORTED whatever its tasks do next. */
  private close(
    execution: RunningExecution,
    status: ExecutionStatus,
    outcome: { output?: string; error?: string; cause?: string } = {},
  ): void {
    if (execution.status !== 'RUNNING') return;
    Object.assign(execution, outcome, { status, stopDate: new Date(), abort: undefined });
    this.publishStatus(execution);
  }

  /** The event's detail is what DescribeExecution says (dates in epoch ms), sent once the change is complete. */
  private publishStatus(execution: Execution): void {
    const sink = this.statusSink;
    if (!sink) return;
    const { executionArn, stateMachineArn, name, status, input, output, error, cause } = execution;
    const detail = {
      executionArn,
      stateMachineArn,
      name,
      status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input,
      inputDetails: { included: true },
      output: output ?? null,
      outputDetails: output === undefined ? null : { included: true },
      ...(error === undefined ? {} : { error }),
      ...(cause === undefined ? {} : { cause }),
    };
    setImmediate(() =>
      sink({
        source: 'aws.states',
        detailType: 'Step Functions Execution Status Change',
        resources: [executionArn],
        detail,
      }),
    );
  }
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * Invoke a function the way the Lambda service does for Step Functions: the event
 * and the result cross as JSON, and an error comes back as its type and message.
 */
async function invokeLambda(fn: LocalTaskFunction, input: unknown): Promise<unknown> {
  const event = JSON.parse(JSON.stringify(input ?? null));
  try {
    const result = await fn.handler(event, lambdaContext(fn, randomUUID()));
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  } catch (error) {
    const original = error instanceof Error ? error : new Error(String(error));
    // Step Functions reports a Lambda error as Error = errorType, Cause = the JSON Lambda returned.
    const reported = new Error(JSON.stringify({ errorType: original.name, errorMessage: original.message }));
    reported.name = original.name;
    throw reported;
  }
}

interface LocalEvent {
  type: string;
  timestamp: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
}

function historyEventOf(
  event: LocalEvent,
  roleArn: string,
): { type: string; details: Record<string, unknown> } | undefined {
  const json = (value: unknown) => JSON.stringify(value ?? null);
  const failure = {
    error: event.Error,
    cause: typeof event.Cause === 'string' ? event.Cause : json(event.Cause),
  };
  switch (event.type) {
    case 'ExecutionStarted':
      return {
        type: 'ExecutionStarted',
        details: { executionStartedEventDetails: { input: json(event.input), roleArn } },
      };
    case 'ExecutionSucceeded':
      return {
        type: 'ExecutionSucceeded',
        details: { executionSucceededEventDetails: { output: json(event.output) } },
      };
    case 'ExecutionFailed':
      return { type: 'ExecutionFailed', details: { executionFailedEventDetails: failure } };
    case 'ExecutionTimeout':
      return { type: 'ExecutionTimedOut', details: { executionTimedOutEventDetails: {} } };
    case 'StateEntered':
      return {
        type: `${event.state?.type}StateEntered`,
        details: { stateEnteredEventDetails: { name: event.state?.name, input: json(event.state?.input) } },
      };
    case 'StateExited':
      return {
        type: `${event.state?.type}StateExited`,
        details: { stateExitedEventDetails: { name: event.state?.name, output: json(event.state?.output) } },
      };
    case 'StateFailed':
      return event.state?.type === 'Task'
        ? { type: 'LambdaFunctionFailed', details: { lambdaFunctionFailedEventDetails: failure } }
        : undefined;
    default:
      // Aborts are recorded by stopExecution; retries and catches have no event of their own on AWS.
      return undefined;
  }
}

function push(
  execution: RunningExecution,
  type: string,
  details: Record<string, unknown>,
  at = Date.now(),
): void {
  const id = execution.events.length + 1;
  execution.events.push({ id, previousEventId: id - 1, timestamp: new Date(at), type, ...details });
}
