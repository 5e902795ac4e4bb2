import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Context } from 'aws-lambda';
import type { Deps } from '../deps.ts';
import { AttemptEffects } from './attemptEffects.ts';
import { AttemptRecords } from './attemptRecords.ts';
import type { StepMessage } from './messages.ts';
import type { AttemptLimits, AttemptOutcome, StepRunner } from './runner.ts';

/** Idempotency records of finished attempts are kept this long (duplicate deliveries arrive within it). */
const RECORD_TTL_SECONDS = 7 * 24 * 3600;

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
 *
 * One per worker invocation (or ECS task), with that invocation's `effects`: the runner
 * gets them as a parameter, and the records' persistence layer hands them the COMPLETED
 * records, which a batch writes with the outcome events. Without `effects`, each attempt's
 * are written as they happen.
 */
export function createIdempotentAttempt(
  deps: Deps,
  runner: StepRunner,
  effects: AttemptEffects = new AttemptEffects(deps),
): IdempotentAttempt {
  const persistenceStore = new AttemptRecords(deps.config.idempotencyTable, deps.aws.dynamodb, effects);
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    expiresAfterSeconds: RECORD_TTL_SECONDS,
    throwOnNoIdempotencyKey: true,
  });
  // One argument only: Powertools takes a second argument with a `step` field for a
  // durable-execution context (and a StepMessage has one).
  const idempotent = makeIdempotent(
    async (call: { key: string; message: StepMessage; limits: AttemptLimits }) =>
      runner.run(call.message, call.limits, effects) as unknown as Promise<Record<string, string | number>>,
    { persistenceStore, config, keyPrefix: 'lambdag-step' },
  );
  return {
    async run(message, limits = {}) {
      const key = `${message.runId}#${message.step}#${message.attempt}`;
      return (await idempotent({ key, message, limits })) as unknown as AttemptOutcome;
    },
    registerLambdaContext(context) {
      config.registerLambdaContext(context);
    },
  };
}
