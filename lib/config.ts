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

function maxReceiveCount(env: NodeJS.ProcessEnv): number {
  const raw = env.LAMBDAG_MAX_RECEIVE_COUNT;
  if (raw === undefined || raw === '') return DEFAULT_MAX_RECEIVE_COUNT;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 1000) {
    throw new ConfigError('LAMBDAG_MAX_RECEIVE_COUNT', `must be an integer from 1 to 1000, got '${raw}'`);
  }
  return value;
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
  for (const [name, url] of Object.entries(config.queues)) env[`${QUEUE_PREFIX}${name.toUpperCase()}`] = url;
  return env;
}
