import { ConfigError } from '../errors.ts';
import { DEFAULT_RUN_PARTITIONS, MAX_RUN_PARTITIONS } from '../store/keys.ts';

/**
 * Every environment variable lambdag's code reads is read here (a test keeps lib/ and
 * handlers/ from reading process.env elsewhere), validated, with errors that name the
 * variable. Each reader takes the environment as a record, `process.env` by default, so
 * the CLI and the embedded stack pass theirs explicitly instead of writing process.env.
 */

/** Where lambdag's resources live. Read and validated once, from the environment. */
export interface LambdagConfig {
  readonly stage: string;
  readonly runsTable: string;
  readonly idempotencyTable: string;
  readonly bucket: string;
  /** Step queue URL by queue name (from `LAMBDAG_QUEUE_URL_<NAME>`), lower-cased names. */
  readonly queues: Readonly<Record<string, string>>;
  /** Claim-check threshold: a message body larger than this goes to S3. */
  readonly maxMessageBytes: number;
  /** How often a running step's worker checks whether its run was canceled (seconds). */
  readonly cancelCheckSeconds: number;
  /** The step queues' maxReceiveCount (their redrive policy): receives before the DLQ. */
  readonly maxReceiveCount: number;
  /**
   * Days a run is kept (custom.stages.<stage>.retentionDays, as the bucket's lifecycle keeps
   * its artifacts): its items get a TTL that long from its start. Absent: runs are kept forever.
   */
  readonly retentionDays?: number;
  /** Where `runtime: 'ecs'` steps run; absent when the deployment has no ECS. */
  readonly ecs?: EcsConfig;
  /**
   * The partition keys each run's items are spread over (`LAMBDAG_RUN_PARTITIONS`, default
   * 16; lib/store/keys.ts). Fixed per stage: runs in flight when it changes lose their items.
   */
  readonly runPartitions: number;
  /**
   * `LAMBDAG_REQUEST_METRICS=1`: each invocation logs the AWS requests it made, by operation
   * (handlers/shared.ts).
   */
  readonly requestMetrics: boolean;
}

export interface EcsConfig {
  readonly cluster: string;
  readonly taskDefinition: string;
  /** The container of the task definition that runs ecs/main.ts. */
  readonly container: string;
  readonly launchType: 'FARGATE' | 'EC2';
  readonly subnets: readonly string[];
  readonly securityGroups: readonly string[];
  /** Public subnets without a NAT gateway need ENABLED to reach ECR and the AWS APIs. */
  readonly assignPublicIp: 'ENABLED' | 'DISABLED';
}

/** An environment: process.env, or a record the CLI or the embedded stack passes. */
export type Env = Readonly<Record<string, string | undefined>>;

/** This process's environment: on Lambda and ECS, the function's or the task's own. */
export function processEnv(): Env {
  return process.env;
}

const QUEUE_PREFIX = 'LAMBDAG_QUEUE_URL_';
export const DEFAULT_QUEUE = 'default';
/** SQS's historical default maximum message size. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** A canceled run's running steps stop within about this long; each check is one small read. */
export const DEFAULT_CANCEL_CHECK_SECONDS = 5;
export const DEFAULT_MAX_RECEIVE_COUNT = 5;
/** SQS's current hard ceiling. */
const SQS_MAX_MESSAGE_BYTES = 1_048_576;

export function readConfig(env: Env = process.env): LambdagConfig {
  const queues: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(QUEUE_PREFIX) && value) queues[name.slice(QUEUE_PREFIX.length).toLowerCase()] = value;
  }
  if (!queues[DEFAULT_QUEUE]) {
    throw new ConfigError(
      `${QUEUE_PREFIX}DEFAULT`,
      'is not set; it must hold the URL of the default step queue',
    );
  }
  return {
    stage: env.LAMBDAG_STAGE ?? 'local',
    runsTable: required(env, 'LAMBDAG_RUNS_TABLE'),
    idempotencyTable: required(env, 'LAMBDAG_IDEMPOTENCY_TABLE'),
    bucket: required(env, 'LAMBDAG_BUCKET'),
    queues,
    maxMessageBytes: maxMessageBytes(env),
    cancelCheckSeconds: cancelCheckSeconds(env),
    maxReceiveCount: maxReceiveCount(env),
    runPartitions: runPartitions(env),
    ...retentionDays(env),
    ...ecsConfig(env),
    requestMetrics: flag(env, 'LAMBDAG_REQUEST_METRICS'),
  };
}

/** `1` on; unset, empty or `0` off. */
function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new ConfigError(name, `must be 1 or 0, got '${raw}'`);
}

function cancelCheckSeconds(env: Env): number {
  const raw = env.LAMBDAG_CANCEL_CHECK_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_CANCEL_CHECK_SECONDS;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0.1 || value > 900) {
    throw new ConfigError(
      'LAMBDAG_CANCEL_CHECK_SECONDS',
      `must be a number of seconds from 0.1 to 900, got '${raw}'`,
    );
  }
  return value;
}

/** `LAMBDAG_ECS_CLUSTER` and `LAMBDAG_ECS_TASK_DEFINITION` turn ECS on; the rest have defaults. */
function ecsConfig(env: Env): { ecs?: EcsConfig } {
  const cluster = env.LAMBDAG_ECS_CLUSTER;
  const taskDefinition = env.LAMBDAG_ECS_TASK_DEFINITION;
  if (!cluster && !taskDefinition) return {};
  if (!cluster || !taskDefinition) {
    throw new ConfigError(
      cluster ? 'LAMBDAG_ECS_TASK_DEFINITION' : 'LAMBDAG_ECS_CLUSTER',
      'is not set; ECS needs both LAMBDAG_ECS_CLUSTER and LAMBDAG_ECS_TASK_DEFINITION',
    );
  }
  const list = (value: string | undefined) => (value ?? '').split(',').filter(Boolean);
  const launchType = env.LAMBDAG_ECS_LAUNCH_TYPE ?? 'FARGATE';
  if (launchType !== 'FARGATE' && launchType !== 'EC2') {
    throw new ConfigError('LAMBDAG_ECS_LAUNCH_TYPE', `must be FARGATE or EC2, got '${launchType}'`);
  }
  const assignPublicIp = env.LAMBDAG_ECS_ASSIGN_PUBLIC_IP || 'DISABLED';
  if (assignPublicIp !== 'ENABLED' && assignPublicIp !== 'DISABLED') {
    throw new ConfigError(
      'LAMBDAG_ECS_ASSIGN_PUBLIC_IP',
      `must be ENABLED or DISABLED, got '${assignPublicIp}'`,
    );
  }
  return {
    ecs: {
      cluster,
      taskDefinition,
      container: env.LAMBDAG_ECS_CONTAINER ?? 'step',
      launchType,
      subnets: list(env.LAMBDAG_ECS_SUBNETS),
      securityGroups: list(env.LAMBDAG_ECS_SECURITY_GROUPS),
      assignPublicIp,
    },
  };
}

function maxReceiveCount(env: Env): number {
  const raw = env.LAMBDAG_MAX_RECEIVE_COUNT;
  if (raw === undefined || raw === '') return DEFAULT_MAX_RECEIVE_COUNT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new ConfigError('LAMBDAG_MAX_RECEIVE_COUNT', `must be an integer from 1 to 1000, got '${raw}'`);
  }
  return value;
}

function runPartitions(env: Env): number {
  const raw = env.LAMBDAG_RUN_PARTITIONS;
  if (raw === undefined || raw === '') return DEFAULT_RUN_PARTITIONS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_RUN_PARTITIONS) {
    throw new ConfigError(
      'LAMBDAG_RUN_PARTITIONS',
      `must be an integer from 1 to ${MAX_RUN_PARTITIONS}, got '${raw}'`,
    );
  }
  return value;
}

/** S3 lifecycle takes whole days; more than 100 years is a typo. */
function retentionDays(env: Env): { retentionDays?: number } {
  const raw = env.LAMBDAG_RETENTION_DAYS;
  if (raw === undefined || raw === '') return {};
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 36_500) {
    throw new ConfigError(
      'LAMBDAG_RETENTION_DAYS',
      `must be a whole number of days from 1 to 36500, got '${raw}'`,
    );
  }
  return { retentionDays: value };
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, 'is not set');
  return value;
}

function maxMessageBytes(env: Env): number {
  const raw = env.LAMBDAG_MAX_MESSAGE_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_MAX_MESSAGE_BYTES;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1024 || value > SQS_MAX_MESSAGE_BYTES) {
    throw new ConfigError(
      'LAMBDAG_MAX_MESSAGE_BYTES',
      `must be an integer between 1024 and ${SQS_MAX_MESSAGE_BYTES}, got '${raw}'`,
    );
  }
  return value;
}

/** The environment variables that describe a config; the inverse of readConfig. */
export function configToEnv(config: LambdagConfig): Record<string, string> {
  const env: Record<string, string> = {
    LAMBDAG_STAGE: config.stage,
    LAMBDAG_RUNS_TABLE: config.runsTable,
    LAMBDAG_IDEMPOTENCY_TABLE: config.idempotencyTable,
    LAMBDAG_BUCKET: config.bucket,
    LAMBDAG_MAX_MESSAGE_BYTES: String(config.maxMessageBytes),
    LAMBDAG_CANCEL_CHECK_SECONDS: String(config.cancelCheckSeconds),
    LAMBDAG_MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
    LAMBDAG_RUN_PARTITIONS: String(config.runPartitions),
  };
  if (config.requestMetrics) env.LAMBDAG_REQUEST_METRICS = '1';
  if (config.retentionDays !== undefined) env.LAMBDAG_RETENTION_DAYS = String(config.retentionDays);
  for (const [name, url] of Object.entries(config.queues)) env[`${QUEUE_PREFIX}${name.toUpperCase()}`] = url;
  if (config.ecs) {
    env.LAMBDAG_ECS_CLUSTER = config.ecs.cluster;
    env.LAMBDAG_ECS_TASK_DEFINITION = config.ecs.taskDefinition;
    env.LAMBDAG_ECS_CONTAINER = config.ecs.container;
    env.LAMBDAG_ECS_LAUNCH_TYPE = config.ecs.launchType;
    env.LAMBDAG_ECS_SUBNETS = config.ecs.subnets.join(',');
    env.LAMBDAG_ECS_SECURITY_GROUPS = config.ecs.securityGroups.join(',');
    env.LAMBDAG_ECS_ASSIGN_PUBLIC_IP = config.ecs.assignPublicIp;
  }
  return env;
}

/**
 * PollRun's settings (lib/run/poll.ts's PollOptions). Read at each invocation, not once: they
 * are cheap to read, and the integration suite tunes them on a running embedded stack.
 */
export interface PollSettings {
  readonly stallSeconds: number;
  readonly watchSeconds: number;
  readonly watchCheckMs: number;
  readonly maxTicks: number;
  readonly queuedLostSeconds: number;
  readonly runningLostSeconds: number;
  readonly cancelGraceSeconds: number;
  readonly ecsStaleSeconds: number;
  readonly ecsStartTimeoutSeconds: number;
}

/**
 * A standard execution's history holds at most 25,000 events, and each poll tick
 * adds about nine (Wait entered/exited, Task entered/scheduled/started/succeeded/
 * exited, Choice entered/exited). Before the cap, PollRun asks the state machine to
 * hand the run over to a fresh execution of itself (continue-as-new); the new
 * execution picks the run up where this one left it. 2,000 ticks is about 18,000
 * events, leaving room for retries; at the longest wait (30 s) that is over 16 hours
 * per execution, and a run may chain as many executions as it needs.
 */
export const DEFAULT_MAX_POLL_TICKS = 2_000;

export function readPollSettings(env: Env = process.env): PollSettings {
  const num = numberReader(env);
  return {
    stallSeconds: num('LAMBDAG_STALL_SECONDS', 300),
    // 1 + 2 + 4 + 8 s: the waits of a run's first 15 s (0: PollRun never watches).
    watchSeconds: num('LAMBDAG_POLL_WATCH_SECONDS', 15, { zero: true }),
    watchCheckMs: num('LAMBDAG_POLL_WATCH_CHECK_MS', 500),
    maxTicks: maxPollTicks(env),
    queuedLostSeconds: num('LAMBDAG_QUEUED_LOST_SECONDS', 900),
    runningLostSeconds: num('LAMBDAG_RUNNING_LOST_SECONDS', 1_000),
    cancelGraceSeconds: num('LAMBDAG_CANCEL_GRACE_SECONDS', 60),
    // Four of the tasks' 30 s heartbeats.
    ecsStaleSeconds: num('LAMBDAG_ECS_STALE_SECONDS', 120),
    ecsStartTimeoutSeconds: num('LAMBDAG_ECS_START_TIMEOUT_SECONDS', 600),
  };
}

function maxPollTicks(env: Env): number {
  const raw = env.LAMBDAG_MAX_POLL_TICKS;
  if (raw === undefined || raw === '') return DEFAULT_MAX_POLL_TICKS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError('LAMBDAG_MAX_POLL_TICKS', `must be a positive integer, got '${raw}'`);
  }
  return value;
}

/** executionEnded's settings (lib/run/executionEnded.ts's ExecutionEndOptions); read per invocation, as PollRun's. */
export interface ExecutionEndSettings {
  readonly cancelGraceSeconds: number;
  readonly checkMs: number;
  readonly startWaitMs: number;
}

export function readExecutionEndSettings(env: Env = process.env): ExecutionEndSettings {
  const num = numberReader(env);
  return {
    cancelGraceSeconds: num('LAMBDAG_CANCEL_GRACE_SECONDS', 60),
    checkMs: num('LAMBDAG_EXECUTION_END_CHECK_MS', 1_000),
    startWaitMs: num('LAMBDAG_EXECUTION_END_START_WAIT_SECONDS', 60) * 1000,
  };
}

/** A positive number (or non-negative, with `zero`) from the variable, or the fallback when unset. */
function numberReader(env: Env) {
  return (name: string, fallback: number, { zero = false } = {}): number => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero))
      throw new ConfigError(name, `must be a ${zero ? 'non-negative' : 'positive'} number, got '${value}'`);
    return n;
  };
}

/** The AWS services lambdag's clients call. */
export type AwsService = 'sqs' | 's3' | 'dynamodb' | 'sfn' | 'ecs' | 'cloudformation';

/**
 * The endpoint overrides in an environment: `AWS_ENDPOINT_URL_<SERVICE>`, else
 * `AWS_ENDPOINT_URL`, the variables the SDK itself honours. Empty on AWS.
 */
export type AwsEndpoints = Readonly<Partial<Record<AwsService, string>>>;

const ENDPOINT_VARIABLES: Readonly<Record<AwsService, string>> = {
  sqs: 'AWS_ENDPOINT_URL_SQS',
  s3: 'AWS_ENDPOINT_URL_S3',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  sfn: 'AWS_ENDPOINT_URL_SFN',
  ecs: 'AWS_ENDPOINT_URL_ECS',
  cloudformation: 'AWS_ENDPOINT_URL_CLOUDFORMATION',
};

export function readAwsEndpoints(env: Env = process.env): AwsEndpoints {
  const endpoints: Partial<Record<AwsService, string>> = {};
  for (const [service, variable] of Object.entries(ENDPOINT_VARIABLES) as [AwsService, string][]) {
    const url = env[variable] || env.AWS_ENDPOINT_URL;
    if (url) endpoints[service] = url;
  }
  return endpoints;
}

/** One endpoint for every service (LocalStack's edge, the embedded stack's gateway). */
export function sameEndpointEverywhere(url: string): AwsEndpoints {
  return Object.fromEntries(Object.keys(ENDPOINT_VARIABLES).map((service) => [service, url]));
}

/** The settings of an ECS task running ecs/main.ts. */
export interface EcsTaskSettings {
  /** How often the task records that its step is alive (PollRun's `ecsStaleSeconds` watches it). */
  readonly heartbeatMs: number;
  /** A module exporting `registry`, instead of the bundled one (the embedded stack's tasks). */
  readonly registryModule?: string;
}

export function readEcsTaskSettings(env: Env = process.env): EcsTaskSettings {
  const registryModule = env.LAMBDAG_REGISTRY_MODULE;
  return {
    heartbeatMs: numberReader(env)('LAMBDAG_ECS_HEARTBEAT_SECONDS', 30) * 1000,
    ...(registryModule ? { registryModule } : {}),
  };
}
