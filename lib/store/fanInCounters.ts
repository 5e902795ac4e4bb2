import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ReleaseTargetMissingError } from '../errors.ts';
import type { DynamoTable } from './dynamoTable.ts';
import type { RunLayout } from './keys.ts';

/**
 * The countdown of a step's upstream steps (lib/step/fanIn.ts), in DynamoDB: `pending` on the
 * step item (or a shard item of a wide fan-in), and `resolvedBy`, a map of the upstream
 * indices counted, so that each is counted once however often its release is retried.
 * A missing item is a ReleaseTargetMissingError, never created by the write.
 */
export class FanInCounters {
  constructor(private readonly table: DynamoTable) {}

  async resolveDependency(
    runId: string,
    key: string,
    upstreamIndex: number,
    shard?: number,
  ): Promise<number> {
    const itemKey = fanInItemKey(this.table.layout, runId, key, shard);
    try {
      // UPDATED_NEW: the counter and the one new map entry come back, not the N already there
      // (a wide fan-in would otherwise return all its entries to each of its writers).
      const out = await this.table.ddb.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: itemKey,
          UpdateExpression: 'SET #resolvedBy.#index = :yes ADD #pending :minusOne',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#resolvedBy.#index)',
          ExpressionAttributeNames: {
            '#pending': 'pending',
            '#resolvedBy': 'resolvedBy',
            '#index': String(upstreamIndex),
          },
          ExpressionAttributeValues: { ':minusOne': -1, ':yes': true },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes?.pending);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Counted before (or no such item): the count as it is.
      const out = await this.table.ddb.send(
        new GetCommand({ TableName: this.table.name, Key: itemKey, ConsistentRead: true }),
      );
      if (!out.Item) throw new ReleaseTargetMissingError(runId, key, shard);
      return Number(out.Item.pending);
    }
  }

  async resolveDependencies(
    runId: string,
    key: string,
    upstreamIndices: readonly number[],
    shard?: number,
  ): Promise<number> {
    const indices = [...new Set(upstreamIndices)];
    if (indices.length === 1) return this.resolveDependency(runId, key, indices[0] as number, shard);
    const names: Record<string, string> = { '#pending': 'pending', '#resolvedBy': 'resolvedBy' };
    indices.forEach((index, i) => {
      names[`#i${i}`] = String(index);
    });
    try {
      const out = await this.table.ddb.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: fanInItemKey(this.table.layout, runId, key, shard),
          UpdateExpression: `SET ${indices.map((_, i) => `#resolvedBy.#i${i} = :yes`).join(', ')} ADD #pending :minus`,
          ConditionExpression: [
            'attribute_exists(pk)',
            ...indices.map((_, i) => `attribute_not_exists(#resolvedBy.#i${i})`),
          ].join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':minus': -indices.length, ':yes': true },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return Number(out.Attributes?.pending);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Some were counted before (a redelivery), or no such item: one by one.
      let pending = Number.POSITIVE_INFINITY;
      for (const index of indices)
        pending = Math.min(pending, await this.resolveDependency(runId, key, index, shard));
      return pending;
    }
  }
}

/** The item a fan-in's release counts on: the step's own, or one of its shards. */
export const fanInItemKey = (layout: RunLayout, runId: string, key: string, shard: number | undefined) =>
  shard === undefined ? layout.stepItem(runId, key) : layout.fanInShardItem(runId, key, shard);
