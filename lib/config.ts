import { ConfigError } from './errors.ts';

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

const QUEUE_PREFIX = 'LAMBDAG_QUEUE_URL_';
export const DEFAULT_QUEUE = 'default';
/** SQS's historical default maximum message size. */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;
/** A canceled run's running steps stop within about this long; each check is one small read. */
export const DEFAULT_CANCEL_CHECK_SECONDS = 5;
export const DEFAULT_MAX_RECEIVE_COUNT = 5;
/** SQS's current hard ceiling. */
const SQS_MAX_MESSAGE_BYTES = 1_048_576;

export function readConfig(env: NodeJS.ProcessEnv = process.env): LambdagConfig {
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
    ...retentionDays(env),
    ...ecsConfig(env),
  };
}

function cancelCheckSeconds(env: NodeJS.ProcessEnv): number {
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
function ecsConfig(env: NodeJS.ProcessEnv): { ecs?: EcsConfig } {
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

function maxReceiveCount(env: NodeJS.ProcessEnv): number {
  const raw = env.LAMBDAG_MAX_RECEIVE_COUNT;
  if (raw === undefined || raw === '') return DEFAULT_MAX_RECEIVE_COUNT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new ConfigError('LAMBDAG_MAX_RECEIVE_COUNT', `must be an integer from 1 to 1000, got '${raw}'`);
  }
  return value;
}

/** S3 lifecycle takes whole days; more than 100 years is a typo. */
function retentionDays(env: NodeJS.ProcessEnv): { retentionDays?: number } {
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

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(name, 'is not set');
  return value;
}

function maxMessageBytes(env: NodeJS.ProcessEnv): number {
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
  };
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
