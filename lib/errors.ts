/**
 * Typed errors with stable codes. `name` is a literal (never `constructor.name`,
 * which minifiers rename): Lambda reports it as `errorType` and ASL `ErrorEquals`
 * matches on it, so names are part of the public API. Each class also declares its
 * retry policy (`static retry`, read by classifyFailure in lib/failure.ts).
 *
 * Over 400 lines on purpose: one file holds every error class, so ERROR_CLASSES (and the
 * test that no exported class is missing from it) sees them all in one place. Each class
 * is small and stands alone.
 */

export const ErrorCode = {
  INVALID_JOB: 'INVALID_JOB',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  INVALID_INPUT: 'INVALID_INPUT',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  ARTIFACT_EXPIRED: 'ARTIFACT_EXPIRED',
  RUN_CONFLICT: 'RUN_CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  CONFIG: 'CONFIG',
  STEP_FAILED: 'STEP_FAILED',
  NON_RETRYABLE: 'NON_RETRYABLE',
  STEP_IN_PROGRESS: 'STEP_IN_PROGRESS',
  LOCAL_STACK: 'LOCAL_STACK',
  RUN_START_FAILED: 'RUN_START_FAILED',
  TRANSIENT_AWS: 'TRANSIENT_AWS',
  CIRCUIT_OPEN: 'CIRCUIT_OPEN',
  WORKER_LOST: 'WORKER_LOST',
  RUN_TIMEOUT: 'RUN_TIMEOUT',
  FAIL_FAST: 'FAIL_FAST',
  /** The run's execution was stopped (StopExecution: console, CLI) before the run ended. */
  EXECUTION_ABORTED: 'EXECUTION_ABORTED',
  /** The run's execution passed its TimeoutSeconds before the run ended. */
  EXECUTION_TIMED_OUT: 'EXECUTION_TIMED_OUT',
  /** The run's execution failed other than through FinalizeRun (a task past its retries). */
  EXECUTION_FAILED: 'EXECUTION_FAILED',
  TASK_STOPPED: 'TASK_STOPPED',
  TASK_LOST: 'TASK_LOST',
  LAMBDA_TIMEOUT: 'LAMBDA_TIMEOUT',
  ECS_LAUNCH_FAILED: 'ECS_LAUNCH_FAILED',
  STEP_TIMEOUT: 'STEP_TIMEOUT',
  RUN_CANCELED: 'RUN_CANCELED',
  RUN_NOT_FINISHED: 'RUN_NOT_FINISHED',
  UNKNOWN_STEP: 'UNKNOWN_STEP',
  NOTHING_TO_RERUN: 'NOTHING_TO_RERUN',
  RELEASE_FAILED: 'RELEASE_FAILED',
  RELEASE_TARGET_MISSING: 'RELEASE_TARGET_MISSING',
  INVALID_SCHEDULE: 'INVALID_SCHEDULE',
  MESSAGES_REJECTED: 'MESSAGES_REJECTED',
  DISPATCH_FAILED: 'DISPATCH_FAILED',
  STEP_OUTPUT_MISSING: 'STEP_OUTPUT_MISSING',
  UPSTREAM_NOT_SUCCEEDED: 'UPSTREAM_NOT_SUCCEEDED',
  PLAN_MISMATCH: 'PLAN_MISMATCH',
  REDRIVE_INCOMPLETE: 'REDRIVE_INCOMPLETE',
  RUN_VANISHED: 'RUN_VANISHED',
  TASK_METADATA: 'TASK_METADATA',
  MAP_ITEMS_INVALID: 'MAP_ITEMS_INVALID',
  MAP_ITEMS_FAILED: 'MAP_ITEMS_FAILED',
  INVALID_CONCURRENCY_LIMIT: 'INVALID_CONCURRENCY_LIMIT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * What an error says about trying again; each error class declares one (`static retry`),
 * and classifyFailure() (lib/failure.ts) reads it.
 */
export interface RetryPolicy {
  /** A step attempt failing with it may be retried within the step's `retries`. */
  readonly retryable: boolean;
  /**
   * A passing fault of the AWS services (throttling, a 5xx, a dropped connection): worth
   * retrying in place, matched by the run state machine's Retry, counted by the worker's
   * circuit breaker.
   */
  readonly transient: boolean;
}

export const Retry = {
  /** Another try cannot succeed: the input, the definition or the request is wrong. */
  FINAL: { retryable: false, transient: false },
  /** Another attempt may succeed (a timeout, a lost worker or task). */
  RETRYABLE: { retryable: true, transient: false },
  /** The infrastructure failed in a way that passes. */
  TRANSIENT: { retryable: true, transient: true },
} as const satisfies Record<string, RetryPolicy>;

export abstract class LambdagError extends Error {
  abstract override readonly name: string;
  abstract readonly code: ErrorCode;
}

/**
 * An error class as the registry below sees it: its literal name (what Lambda reports as
 * errorType and ASL matches) and its retry policy, both static so they are known without
 * an instance.
 */
export interface LambdagErrorClass {
  readonly errorName: string;
  readonly retry: RetryPolicy;
  readonly prototype: LambdagError;
}

/** A job definition is not a valid DAG (cycle, unknown dependency, duplicate or bad key, no steps). */
export class InvalidJobError extends LambdagError {
  static readonly errorName = 'InvalidJobError';
  static readonly retry = Retry.FINAL;
  override readonly name = InvalidJobError.errorName;
  readonly code = ErrorCode.INVALID_JOB;
  constructor(
    readonly job: string,
    message: string,
    readonly steps: readonly string[] = [],
  ) {
    super(`job '${job}': ${message}`);
  }
}

export class JobNotFoundError extends LambdagError {
  static readonly errorName = 'JobNotFoundError';
  static readonly retry = Retry.FINAL;
  override readonly name = JobNotFoundError.errorName;
  readonly code = ErrorCode.JOB_NOT_FOUND;
  constructor(
    readonly job: string,
    readonly known: readonly string[],
  ) {
    super(`unknown job '${job}'; known jobs: ${known.length ? known.join(', ') : '(none)'}`);
  }
}

/** Run input that is not JSON or fails the job's schema. `issues` say where. */
export class InvalidInputError extends LambdagError {
  static readonly errorName = 'InvalidInputError';
  static readonly retry = Retry.FINAL;
  override readonly name = InvalidInputError.errorName;
  readonly code = ErrorCode.INVALID_INPUT;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(issues.length ? `${message}: ${issues.join('; ')}` : message);
  }
}

/** `lambdag concurrency set` (or ConcurrencyInspector.setLimit) given a key or limit it cannot keep. */
export class InvalidConcurrencyLimitError extends LambdagError {
  static readonly errorName = 'InvalidConcurrencyLimitError';
  static readonly retry = Retry.FINAL;
  override readonly name = InvalidConcurrencyLimitError.errorName;
  readonly code = ErrorCode.INVALID_CONCURRENCY_LIMIT;
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`concurrency key '${key}': ${message}`);
  }
}

export class RunNotFoundError extends LambdagError {
  static readonly errorName = 'RunNotFoundError';
  static readonly retry = Retry.FINAL;
  override readonly name = RunNotFoundError.errorName;
  readonly code = ErrorCode.RUN_NOT_FOUND;
  /** `retentionDays`: how long runs are kept, when known; an older run's items have expired. */
  constructor(
    readonly runId: string,
    readonly retentionDays?: number,
  ) {
    super(
      `run '${runId}' not found${retentionDays === undefined ? '' : ` (runs are kept ${retentionDays} days)`}`,
    );
  }
}

/**
 * An artifact of a run (a step's output, its input or result) is no longer in the bucket:
 * the bucket's lifecycle deleted it after the retention, while the run's items were still
 * there (DynamoDB deletes expired items up to about 48 hours late).
 */
export class ArtifactExpiredError extends LambdagError {
  static readonly errorName = 'ArtifactExpiredError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = ArtifactExpiredError.errorName;
  readonly code = ErrorCode.ARTIFACT_EXPIRED;
  constructor(
    readonly runId: string,
    readonly key: string,
    readonly step?: string,
    readonly retentionDays?: number,
    options?: { cause?: unknown },
  ) {
    const what =
      step === undefined ? `an artifact of run '${runId}'` : `the output of step '${step}' of run '${runId}'`;
    const kept = retentionDays === undefined ? '' : `: artifacts are kept ${retentionDays} days`;
    super(`${what} has expired (s3 object ${key} is gone${kept})`, options);
  }
}

/** A run id is already taken by a run of another job or input. */
export class RunConflictError extends LambdagError {
  static readonly errorName = 'RunConflictError';
  static readonly retry = Retry.FINAL;
  override readonly name = RunConflictError.errorName;
  readonly code = ErrorCode.RUN_CONFLICT;
  constructor(
    readonly runId: string,
    message: string,
  ) {
    super(`run '${runId}': ${message}`);
  }
}

export class PayloadTooLargeError extends LambdagError {
  static readonly errorName = 'PayloadTooLargeError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = PayloadTooLargeError.errorName;
  readonly code = ErrorCode.PAYLOAD_TOO_LARGE;
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${what} is ${bytes} bytes; the limit is ${limit} bytes`);
  }
}

/** A queue message that cannot be parsed or names no known run/job/step. Never retried by us; SQS moves it to the DLQ. */
export class InvalidMessageError extends LambdagError {
  static readonly errorName = 'InvalidMessageError';
  static readonly retry = Retry.FINAL;
  override readonly name = InvalidMessageError.errorName;
  readonly code = ErrorCode.INVALID_MESSAGE;
}

export class ConfigError extends LambdagError {
  static readonly errorName = 'ConfigError';
  static readonly retry = Retry.FINAL;
  override readonly name = ConfigError.errorName;
  readonly code = ErrorCode.CONFIG;
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** Thrown by step code to fail the step at once, without using its retries. */
export class NonRetryableError extends LambdagError {
  static readonly errorName = 'NonRetryableError';
  static readonly retry = Retry.FINAL;
  /** Subclasses (step code's own) may name themselves; they stay non-retryable. */
  override readonly name: string = NonRetryableError.errorName;
  readonly code: ErrorCode = ErrorCode.NON_RETRYABLE;
}

/** Another delivery of the same step attempt is running; try this delivery later. */
export class StepInProgressError extends LambdagError {
  static readonly errorName = 'StepInProgressError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = StepInProgressError.errorName;
  readonly code = ErrorCode.STEP_IN_PROGRESS;
}

/**
 * An AWS call failed in a way that passes (throttling, a 5xx, a dropped connection)
 * after the SDK's own retries. The run state machine retries tasks that throw it.
 */
export class TransientAwsError extends LambdagError {
  static readonly errorName = 'TransientAwsError';
  static readonly retry = Retry.TRANSIENT;
  override readonly name = TransientAwsError.errorName;
  readonly code = ErrorCode.TRANSIENT_AWS;
  constructor(readonly original: Error) {
    super(`${original.name}: ${original.message}`, { cause: original });
  }
}

/**
 * Workers kept dying while running one step attempt (killed by the Lambda timeout, out of
 * memory): the attempt fails with this instead of being redelivered forever, and the
 * step's retry budget decides what follows.
 */
export class WorkerLostError extends LambdagError {
  static readonly errorName = 'WorkerLostError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = WorkerLostError.errorName;
  readonly code = ErrorCode.WORKER_LOST;
  constructor(step: string, attempt: number, lost: number) {
    super(
      `step '${step}' attempt ${attempt}: the worker died ${lost} times while running it ` +
        '(killed by the Lambda timeout or out of memory?); give it more memory or time, or run it on ECS',
    );
  }
}

/** The ECS task running a step was asked to stop (SIGTERM): the attempt fails and is retried. */
export class TaskStoppedError extends LambdagError {
  static readonly errorName = 'TaskStoppedError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = TaskStoppedError.errorName;
  readonly code = ErrorCode.TASK_STOPPED;
  constructor(step: string, signal: string) {
    super(`the ECS task running step '${step}' got ${signal} and stopped the step`);
  }
}

/**
 * The ECS task running a step is gone without a result (it stopped, was killed, never
 * started, or stopped beating): found by PollRun, retried within the step's `retries`.
 */
export class TaskLostError extends LambdagError {
  static readonly errorName = 'TaskLostError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = TaskLostError.errorName;
  readonly code = ErrorCode.TASK_LOST;
  constructor(
    readonly step: string,
    readonly taskArn: string,
    readonly reason: string,
  ) {
    super(`the ECS task running step '${step}' was lost: ${reason} (${taskArn})`);
  }
}

/** ECS did not start a task for a step (RunTask returned failures): the delivery is retried. */
export class EcsLaunchError extends LambdagError {
  static readonly errorName = 'EcsLaunchError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = EcsLaunchError.errorName;
  readonly code = ErrorCode.ECS_LAUNCH_FAILED;
  constructor(
    readonly step: string,
    readonly reasons: string,
  ) {
    super(`ECS did not start a task for step '${step}': ${reasons}`);
  }
}

/**
 * A worker could not write the release of fan-in steps its attempts resolved (AWS kept
 * failing). The invocation fails, so its messages come back: their attempts are found
 * SUCCEEDED and release again.
 */
export class ReleaseFailedError extends LambdagError {
  static readonly errorName = 'ReleaseFailedError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = ReleaseFailedError.errorName;
  readonly code = ErrorCode.RELEASE_FAILED;
  constructor(
    readonly steps: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`could not release fan-in step(s) ${steps.map((s) => `'${s}'`).join(', ')}`, options);
  }
}

/**
 * The item a fan-in's release counts on (the step's, or one of its shards) does not exist:
 * a wrong run or step, or a shard a run started by an older version never wrote.
 */
export class ReleaseTargetMissingError extends LambdagError {
  static readonly errorName = 'ReleaseTargetMissingError';
  static readonly retry = Retry.FINAL;
  override readonly name = ReleaseTargetMissingError.errorName;
  readonly code = ErrorCode.RELEASE_TARGET_MISSING;
  constructor(
    readonly runId: string,
    readonly step: string,
    readonly shard?: number,
  ) {
    super(
      `${shard === undefined ? `step '${step}'` : `shard ${shard} of step '${step}'`} of run '${runId}' does not exist`,
    );
  }
}

/** The worker's circuit breaker is open: the record was handed back without being started. */
export class CircuitOpenError extends LambdagError {
  static readonly errorName = 'CircuitOpenError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = CircuitOpenError.errorName;
  readonly code = ErrorCode.CIRCUIT_OPEN;
  constructor(readonly retryInMs: number) {
    super(`AWS dependencies keep failing; not starting step attempts for ${Math.ceil(retryInMs / 1000)}s`);
  }
}

/** The run's execution ended before StartRun recorded the run (bad request, unknown job). */
export class RunStartFailedError extends LambdagError {
  static readonly errorName = 'RunStartFailedError';
  static readonly retry = Retry.FINAL;
  override readonly name = RunStartFailedError.errorName;
  readonly code = ErrorCode.RUN_START_FAILED;
  constructor(
    readonly runId: string,
    readonly executionStatus: string,
    readonly error: string | undefined,
    readonly executionCause: string | undefined,
  ) {
    super(
      `run '${runId}' did not start: its execution ${executionStatus.toLowerCase()}${error ? ` with ${error}` : ''}${executionCause ? `: ${executionCause}` : ''}`,
    );
  }
}

export class LocalStackError extends LambdagError {
  static readonly errorName = 'LocalStackError';
  static readonly retry = Retry.FINAL;
  override readonly name = LocalStackError.errorName;
  readonly code = ErrorCode.LOCAL_STACK;
}

/** An error as stored in DynamoDB, S3 and Step Functions output. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SerializedError;
}

const MAX_MESSAGE = 4_000;
const MAX_STACK = 4_000;

/** Serialize on purpose, size-capped, so an error can cross into DynamoDB or Step Functions. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'NonError', message: truncate(safeString(error), MAX_MESSAGE) };
  }
  const out: SerializedError = { name: error.name, message: truncate(error.message, MAX_MESSAGE) };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') out.code = code;
  if (error.stack) out.stack = truncate(error.stack, MAX_STACK);
  if (error.cause !== undefined && depth < 3) out.cause = serializeError(error.cause, depth + 1);
  return out;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more chars)`;
}

/** A step attempt ran past its time limit. Retryable within the step's retries. */
export class StepTimeoutError extends LambdagError {
  static readonly errorName = 'StepTimeoutError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = StepTimeoutError.errorName;
  readonly code = ErrorCode.STEP_TIMEOUT;
  constructor(
    readonly step: string,
    readonly seconds: number,
  ) {
    super(`step '${step}' did not finish within ${seconds}s`);
  }
}

/**
 * A Lambda step ran out of its invocation's time (not its own `timeoutSeconds`): with
 * `onLambdaTimeout: 'ecs'` the next attempt runs on ECS, else it is retried like a timeout.
 */
export class LambdaTimeoutError extends LambdagError {
  static readonly errorName = 'LambdaTimeoutError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = LambdaTimeoutError.errorName;
  readonly code = ErrorCode.LAMBDA_TIMEOUT;
  constructor(
    readonly step: string,
    readonly seconds: number,
  ) {
    super(`step '${step}' ran out of the Lambda invocation's time after ${seconds}s`);
  }
}

/**
 * The reason a running step's AbortSignal is aborted when its run is canceled. The
 * runner records the attempt CANCELED (not failed, not retried) when it sees it.
 */
export class RunCanceledError extends LambdagError {
  static readonly errorName = 'RunCanceledError';
  static readonly retry = Retry.FINAL;
  override readonly name = RunCanceledError.errorName;
  readonly code = ErrorCode.RUN_CANCELED;
  constructor(
    readonly runId: string,
    readonly step?: string,
  ) {
    super(`run '${runId}' was canceled${step ? ` while step '${step}' was running` : ''}`);
  }
}

/** The run has not finished (STARTING, RUNNING or CANCELING), so it cannot be re-run yet. */
export class RunNotFinishedError extends LambdagError {
  static readonly errorName = 'RunNotFinishedError';
  static readonly retry = Retry.FINAL;
  override readonly name = RunNotFinishedError.errorName;
  readonly code = ErrorCode.RUN_NOT_FINISHED;
  constructor(
    readonly runId: string,
    readonly status: string,
    action: string,
  ) {
    super(`run '${runId}' is ${status}; ${action}`);
  }
}

/** Step names that the run's job does not have (e.g. `rerun --steps`). `steps` lists them. */
export class UnknownStepError extends LambdagError {
  static readonly errorName = 'UnknownStepError';
  static readonly retry = Retry.FINAL;
  override readonly name = UnknownStepError.errorName;
  readonly code = ErrorCode.UNKNOWN_STEP;
  constructor(
    readonly job: string,
    readonly steps: readonly string[],
    readonly known: readonly string[],
  ) {
    const shown = known.slice(0, 20).join(', ') + (known.length > 20 ? `, … (${known.length} in all)` : '');
    super(
      `job '${job}' has no step${steps.length > 1 ? 's' : ''} ${steps.map((s) => `'${s}'`).join(', ')}; its steps: ${shown}`,
    );
  }
}

/** `rerun --from-failure` of a run in which every step succeeded. */
export class NothingToRerunError extends LambdagError {
  static readonly errorName = 'NothingToRerunError';
  static readonly retry = Retry.FINAL;
  override readonly name = NothingToRerunError.errorName;
  readonly code = ErrorCode.NOTHING_TO_RERUN;
  constructor(
    readonly runId: string,
    message: string,
  ) {
    super(`run '${runId}': ${message}`);
  }
}

/** A schedule expression that is not EventBridge's rate(...) or cron(...), or not valid as one. */
export class InvalidScheduleError extends LambdagError {
  static readonly errorName = 'InvalidScheduleError';
  static readonly retry = Retry.FINAL;
  override readonly name = InvalidScheduleError.errorName;
  readonly code = ErrorCode.INVALID_SCHEDULE;
  constructor(
    readonly expression: string,
    message: string,
  ) {
    super(message);
  }
}

/** SQS refused step messages as malformed (a sender fault): sending them again cannot help. */
export class MessagesRejectedError extends LambdagError {
  static readonly errorName = 'MessagesRejectedError';
  static readonly retry = Retry.FINAL;
  override readonly name = MessagesRejectedError.errorName;
  readonly code = ErrorCode.MESSAGES_REJECTED;
  constructor(readonly reasons: readonly string[]) {
    super(`SQS rejected step messages: ${reasons.join('; ')}`);
  }
}

/** SQS kept failing some step messages of a batch through every resend. */
export class DispatchFailedError extends LambdagError {
  static readonly errorName = 'DispatchFailedError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = DispatchFailedError.errorName;
  readonly code = ErrorCode.DISPATCH_FAILED;
  constructor(readonly failed: number) {
    super(`SQS kept failing ${failed} step messages`);
  }
}

/**
 * A SUCCEEDED step has neither an output nor an output key: its item is not what the
 * runner wrote. Retryable, as any failure to load an upstream output has always been.
 */
export class StepOutputMissingError extends LambdagError {
  static readonly errorName = 'StepOutputMissingError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = StepOutputMissingError.errorName;
  readonly code = ErrorCode.STEP_OUTPUT_MISSING;
  constructor(
    readonly runId: string,
    readonly step: string,
  ) {
    super(`step '${step}' of run '${runId}' has no recorded output`);
  }
}

/**
 * A step's upstream is not SUCCEEDED when the step reads it: its release came before the
 * record (a redelivery of an old attempt, say). Retryable: the record settles.
 */
export class UpstreamNotSucceededError extends LambdagError {
  static readonly errorName = 'UpstreamNotSucceededError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = UpstreamNotSucceededError.errorName;
  readonly code = ErrorCode.UPSTREAM_NOT_SUCCEEDED;
  constructor(
    readonly runId: string,
    readonly step: string,
    readonly upstream: string,
    readonly status: string,
  ) {
    super(`upstream step '${upstream}' of '${step}' (run '${runId}') is ${status}, not SUCCEEDED`);
  }
}

/**
 * A release names a step its plan does not list as upstream of the dependent: the plan the
 * worker built differs from the one the run was started with (a job changed under a run).
 * Retryable, as it always was; it ends in the DLQ if it persists.
 */
export class PlanMismatchError extends LambdagError {
  static readonly errorName = 'PlanMismatchError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = PlanMismatchError.errorName;
  readonly code = ErrorCode.PLAN_MISMATCH;
  constructor(
    readonly step: string,
    readonly dependent: string,
  ) {
    super(`step '${step}' is not upstream of '${dependent}' in this run's plan`);
  }
}

/** A DLQ redrive sent some messages back but not all; those stay in the DLQ (run it again). */
export class RedriveIncompleteError extends LambdagError {
  static readonly errorName = 'RedriveIncompleteError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = RedriveIncompleteError.errorName;
  readonly code = ErrorCode.REDRIVE_INCOMPLETE;
  constructor(
    readonly queue: string,
    readonly left: number,
  ) {
    super(`redrive of '${queue}': ${left} message(s) could not be sent back; they stay in the DLQ`);
  }
}

/**
 * StartRun's conditional create found a run under the id, yet did not get it back (it
 * expired or was deleted in between): StartRun's retry creates it again.
 */
export class RunVanishedError extends LambdagError {
  static readonly errorName = 'RunVanishedError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = RunVanishedError.errorName;
  readonly code = ErrorCode.RUN_VANISHED;
  constructor(readonly runId: string) {
    super(`run '${runId}' could not be created or read`);
  }
}

/** The ECS task metadata endpoint did not answer with the task's document. */
export class TaskMetadataError extends LambdagError {
  static readonly errorName = 'TaskMetadataError';
  static readonly retry = Retry.RETRYABLE;
  override readonly name = TaskMetadataError.errorName;
  readonly code = ErrorCode.TASK_METADATA;
  constructor(readonly status: number) {
    super(`task metadata endpoint answered ${status}`);
  }
}

/** A map step's upstream output is not a list it can fan out over (not an array, or keys clash). */
export class MapItemsInvalidError extends LambdagError {
  static readonly errorName = 'MapItemsInvalidError';
  static readonly retry = Retry.FINAL;
  override readonly name = MapItemsInvalidError.errorName;
  readonly code = ErrorCode.MAP_ITEMS_INVALID;
  constructor(
    readonly step: string,
    reason: string,
  ) {
    super(`map step '${step}': ${reason}`);
  }
}

/** More items of a map step failed than it tolerates: the map step fails. */
export class MapItemsFailedError extends LambdagError {
  static readonly errorName = 'MapItemsFailedError';
  static readonly retry = Retry.FINAL;
  override readonly name = MapItemsFailedError.errorName;
  readonly code = ErrorCode.MAP_ITEMS_FAILED;
  constructor(
    readonly step: string,
    readonly failed: number,
    readonly items: number,
    readonly tolerated: number,
  ) {
    super(`map step '${step}': ${failed} of ${items} item(s) failed, ${tolerated} tolerated`);
  }
}

/**
 * Every error class lambdag raises. A test checks that each LambdagError subclass this
 * module exports is here, so ERROR_NAMES cannot miss one.
 */
export const ERROR_CLASSES = [
  MapItemsInvalidError,
  MapItemsFailedError,
  UpstreamNotSucceededError,
  PlanMismatchError,
  InvalidJobError,
  JobNotFoundError,
  InvalidInputError,
  InvalidConcurrencyLimitError,
  RunNotFoundError,
  ArtifactExpiredError,
  RunConflictError,
  PayloadTooLargeError,
  InvalidMessageError,
  ConfigError,
  NonRetryableError,
  StepInProgressError,
  TransientAwsError,
  WorkerLostError,
  TaskStoppedError,
  TaskLostError,
  EcsLaunchError,
  ReleaseFailedError,
  ReleaseTargetMissingError,
  CircuitOpenError,
  RunStartFailedError,
  LocalStackError,
  StepTimeoutError,
  LambdaTimeoutError,
  RunCanceledError,
  RunNotFinishedError,
  UnknownStepError,
  NothingToRerunError,
  InvalidScheduleError,
  MessagesRejectedError,
  DispatchFailedError,
  StepOutputMissingError,
  RedriveIncompleteError,
  RunVanishedError,
  TaskMetadataError,
] as const satisfies readonly LambdagErrorClass[];

export type LambdagErrorName = (typeof ERROR_CLASSES)[number]['errorName'];

/** Every error name lambdag raises: the values Lambda reports as errorType and ASL can match. */
export const ERROR_NAMES: readonly LambdagErrorName[] = ERROR_CLASSES.map((cls) => cls.errorName);
