import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimit } from '../concurrency.ts';
import type { BatchWrites } from './batchWrites.ts';
import { BATCH_WRITE } from './batchWrites.ts';
import { type DynamoTable, PARALLEL_BATCHES } from './dynamoTable.ts';
import { type RunLayout, STEP_SK_PREFIX } from './keys.ts';
import { mergeSorted } from './mergeSorted.ts';
import { type Item, toStep, ttlOf } from './records.ts';
import type { RunCounters } from './runCounters.ts';
import type { PutStepsOptions, RunExpiry, Transition } from './runStore.ts';
import { type StepTransition, stepWrite } from './stepTransitions.ts';
import type { FanInShard, StepRecord } from './types.ts';

/**
 * The step items of a run (and the shard items of its wide fan-ins), in DynamoDB, each on
 * the partition key its step key hashes to (lib/store/keys.ts).
 */
export class StepItems {
  constructor(
    private readonly table: DynamoTable,
    private readonly batches: BatchWrites,
    private readonly counters: RunCounters,
  ) {}

  async putSteps(
    steps: readonly StepRecord[],
    shards: readonly FanInShard[],
    expiresAt: RunExpiry,
    options: PutStepsOptions = {},
  ): Promise<void> {
    const items = [
      ...initialItems(this.table.layout, steps, shards, expiresAt),
      ...(options.runCounters ? this.counters.initialItems(options.runCounters, expiresAt) : []),
    ];
    const chunks: Item[][] = [];
    for (let i = 0; i < items.length; i += BATCH_WRITE) chunks.push(items.slice(i, i + BATCH_WRITE));
    await forEachLimit(chunks, PARALLEL_BATCHES, (chunk) => this.batches.putChunk(chunk));
  }

  async getStep(runId: string, key: string): Promise<StepRecord | undefined> {
    const out = await this.table.ddb.send(
      new GetCommand({
        TableName: this.table.name,
        Key: this.table.layout.stepItem(runId, key),
        ConsistentRead: true,
      }),
    );
    return out.Item ? toStep(out.Item) : undefined;
  }

  async getSteps(runId: string, keys: readonly string[]): Promise<Map<string, StepRecord>> {
    const items = await this.table.batchGet(keys.map((key) => this.table.layout.stepItem(runId, key)));
    return new Map(items.map((item) => toStep(item)).map((step) => [step.key, step]));
  }

  /** Each partition key's steps come in key order; merged, the run's do. */
  async *listSteps(runId: string): AsyncGenerator<StepRecord> {
    const partitions = this.table.layout.partitionPks(runId).map((pk) => this.stepsOn(pk));
    for await (const item of mergeSorted(partitions, (item) => String(item.sk))) yield toStep(item);
  }

  private async *stepsOn(pk: string): AsyncGenerator<Item> {
    let start: Item | undefined;
    do {
      const out = await this.table.ddb.send(
        new QueryCommand({
          TableName: this.table.name,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': STEP_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /** A transition of lib/store/stepTransitions.ts: one conditional UpdateItem. */
  transition<A>(
    runId: string,
    key: string,
    transition: StepTransition<A>,
    args: A,
  ): Promise<Transition<StepRecord>> {
    const { update, condition } = stepWrite(transition, args, this.table.iso());
    return this.table.update(this.table.layout.stepItem(runId, key), update, condition, toStep);
  }
}

/**
 * The items a run starts with: its steps, and the shards of its wide fan-ins, each with
 * an empty `resolvedBy` (the upstream steps, or shards, resolveDependency has counted) and
 * the run's expiry.
 */
export function initialItems(
  layout: RunLayout,
  steps: readonly StepRecord[],
  shards: readonly FanInShard[],
  expiresAt: RunExpiry,
): Item[] {
  const ttl = ttlOf(expiresAt);
  return [
    ...steps.map((step) => ({ ...step, resolvedBy: {}, ...ttl, ...layout.stepItem(step.runId, step.key) })),
    ...shards.map((shard) => ({
      ...shard,
      resolvedBy: {},
      ...ttl,
      ...layout.fanInShardItem(shard.runId, shard.step, shard.shard),
    })),
  ];
}
