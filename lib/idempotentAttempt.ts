import { AsyncLocalStorage } from 'node:async_hooks';
import {
  IdempotencyConfig,
  IdempotencyRecordStatus,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { AttemptBatch } from './attemptBatch.ts';
import type { Deps } from './deps.ts';
import type { StepMessage } from './messages.ts';
import type { AttemptLimits, AttemptOutcome, StepRunner } from './runner.ts';

/** Idempotency records of finished attempts are kept this long (duplicate deliveries arrive within it). */
const RECORD_TTL_SECONDS = 7 * 24 * 3600;

/** The record's attributes: Powertools' defaults, named here because the batched write builds the item. */
const ATTRIBUTES = {
  keyAttr: 'id',
  expiryAttr: 'expiration',
  inProgressExpiryAttr: 'in_progress_expiration',
  statusAttr: 'status',
  dataAttr: 'data',
} as const;

export interface IdempotentAttempt {
  run(message: StepMessage, limits?: AttemptLimits): Promise<AttemptOutcome>;
  /** Lets an in-progress record expire with the invocation, so a killed worker does not block retries. */
  registerLambdaContext(context: Context): void;
}

/**
 * Wraps the step runner in Powertools idempotency keyed by `runId#step#attempt`:
 * a duplicate delivery of a finished attempt returns the stored outcome without
 * running anything; one of an attempt in progress elsewhere throws
 * IdempotencyAlreadyInProgressError (the caller retries it later). The key prefix is
 * fixed so the Lambda worker and the ECS entrypoint share records.
 */
export function createIdempotentAttempt(deps: Deps, runner: StepRunner): IdempotentAttempt {
  // One persistence layer per idempotent function (Powertools caches per instance).
  const persistenceStore = new BatchingPersistenceLayer(deps.config.idempotencyTable, deps.aws.dynamodb);
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    expiresAfterSeconds: RECORD_TTL_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
  // One argument only: Powertools takes a second argument with a `step` field for a
  // durable-execution context (and a StepMessage has one).
  const idempotent = makeIdempotent(
    async (call: { key: string; message: StepMessage; limits: AttemptLimits }) =>
      runner.run(call.message, call.limits) as unknown as Promise<Record<string, string | number>>,
    { persistenceStore, config, keyPrefix: 'lambdag-step' },
  );
  return {
    async run(message, limits = {}) {
      const key = `${message.runId}#${message.step}#${message.attempt}`;
      const call = () => idempotent({ key, message, limits });
      const outcome = limits.batch ? await completions.run(limits.batch, call) : await call();
      return outcome as unknown as AttemptOutcome;
    },
    registerLambdaContext(context) {
      config.registerLambdaContext(context);
    },
  };
}

/** The invocation's batch, for the COMPLETED records of the attempts it runs. */
const completions = new AsyncLocalStorage<AttemptBatch>();

/**
 * Powertools' DynamoDB layer, except that an attempt run within a worker invocation's
 * batch has its COMPLETED record written with the batch's events (one BatchWriteItem),
 * not in an UpdateItem of its own. Powertools' update is unconditional and sets the same
 * attributes, so a put of the whole record stores what it would. The record stays
 * INPROGRESS until the batch is written, before the invocation returns; a worker that dies
 * first leaves it to expire with the invocation, as a crash before Powertools' own update
 * does, and a duplicate delivery meanwhile is retried later rather than answered at once.
 */
class BatchingPersistenceLayer extends DynamoDBPersistenceLayer {
  constructor(
    private readonly table: string,
    client: DynamoDBClient,
  ) {
    super({ tableName: table, awsSdkV3Client: client, ...ATTRIBUTES });
  }

  protected override async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const batch = completions.getStore();
    if (
      !batch ||
      record.getStatus() !== IdempotencyRecordStatus.COMPLETED ||
      this.isPayloadValidationEnabled()
    ) {
      return super._updateRecord(record);
    }
    batch.complete(
      this.table,
      { [ATTRIBUTES.keyAttr]: record.idempotencyKey },
      {
        [ATTRIBUTES.keyAttr]: record.idempotencyKey,
        [ATTRIBUTES.statusAttr]: record.getStatus(),
        ...(record.expiryTimestamp === undefined ? {} : { [ATTRIBUTES.expiryAttr]: record.expiryTimestamp }),
        ...(record.responseData === undefined ? {} : { [ATTRIBUTES.dataAttr]: record.responseData }),
      },
    );
  }
}
