import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { retryDelaySeconds } from '../backoff.ts';
import { forEachLimit } from '../concurrency.ts';
import { type ItemCondition, type ItemUpdate, toExpression } from './itemUpdates.ts';
import type { ItemKey, RunLayout } from './keys.ts';
import type { Item } from './records.ts';
import type { Transition } from './runStore.ts';

/** BatchGetItem's most keys per request. */
const BATCH_GET = 100;
/** Batch requests in flight at once for one call. */
export const PARALLEL_BATCHES = 4;

/** The runs table as the DynamoDB store's parts share it: client, name, clock, key layout. */
export class DynamoTable {
  constructor(
    readonly ddb: DynamoDBDocumentClient,
    readonly name: string,
    readonly now: () => Date,
    readonly layout: RunLayout,
  ) {}

  iso(): string {
    return this.now().toISOString();
  }

  /**
   * One conditional UpdateItem. Outcome: the item after (ALL_NEW), or the item that failed
   * the condition (ALL_OLD), or none when there is no such item; any other error propagates.
   */
  async update<T>(
    key: Item,
    update: ItemUpdate,
    condition: ItemCondition,
    convert: (item: Item) => T,
  ): Promise<Transition<T>> {
    try {
      const out = await this.ddb.send(
        new UpdateCommand({
          TableName: this.name,
          Key: key,
          ...toExpression(update, condition),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, item: convert(out.Attributes ?? {}) };
    } catch (error) {
      return this.conditionFailed(error, key, convert);
    }
  }

  /** An UpdateItem whose outcome is not needed; a failed condition (no such item) throws. */
  async updateOrThrow(key: Item, update: ItemUpdate, condition: ItemCondition): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({ TableName: this.name, Key: key, ...toExpression(update, condition) }),
    );
  }

  /**
   * Strongly consistent reads of `keys` (items not found are left out, order not kept):
   * BatchGetItem in chunks of 100, `parallel` in flight, unprocessed keys asked again
   * after a pause.
   */
  async batchGet(keys: readonly ItemKey[], parallel = PARALLEL_BATCHES): Promise<Item[]> {
    const found: Item[] = [];
    const chunks: ItemKey[][] = [];
    for (let i = 0; i < keys.length; i += BATCH_GET) chunks.push(keys.slice(i, i + BATCH_GET));
    await forEachLimit(chunks, parallel, async (chunk) => {
      let wanted: Item[] = chunk;
      for (let round = 0; wanted.length > 0; round++) {
        if (round > 0) await pauseBeforeRound(round);
        const out = await this.ddb.send(
          new BatchGetCommand({ RequestItems: { [this.name]: { Keys: wanted, ConsistentRead: true } } }),
        );
        found.push(...(out.Responses?.[this.name] ?? []));
        wanted = out.UnprocessedKeys?.[this.name]?.Keys ?? [];
      }
    });
    return found;
  }

  /**
   * The outcome of a write whose condition failed: the item as it is. Not every
   * DynamoDB implementation returns it (dynalite ignores ReturnValuesOnConditionCheckFailure),
   * so it is read when missing: "no current item" then really means there is none.
   */
  async conditionFailed<T>(error: unknown, key: Item, convert: (item: Item) => T): Promise<Transition<T>> {
    // Only a failed precondition is an outcome; any other error propagates.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    const item = error.Item as Item | undefined;
    if (item) return { ok: false, current: convert(unmarshallLoose(item)) };
    const out = await this.ddb.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return out.Item ? { ok: false, current: convert(out.Item) } : { ok: false };
  }
}

function unmarshallLoose(item: Item): Item {
  // ConditionalCheckFailedException.Item is in AttributeValue form even through the document client.
  const looksMarshalled = Object.values(item).every(
    (v) => v !== null && typeof v === 'object' && Object.keys(v as object).length === 1,
  );
  return looksMarshalled ? unmarshall(item as Parameters<typeof unmarshall>[0]) : item;
}

/**
 * The pause before round `round` (from 1) of a batch request's unprocessed items: full
 * jitter up to min(2 s, 50 ms * 2^round). lib/backoff.ts computes it; its unit is whatever
 * `baseSeconds` is in, and here that is milliseconds, as these pauses are short.
 */
export async function pauseBeforeRound(round: number): Promise<void> {
  const ms = retryDelaySeconds(round + 1, { baseSeconds: 50, maxSeconds: 2_000 });
  await new Promise((resolve) => setTimeout(resolve, ms));
}
