import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  BY_JOB_INDEX,
  CONCURRENCY_GSI_PK,
  concurrencyPk,
  LIMIT_SK,
  SLOT_SK_PREFIX,
  slotSk,
  WAITER_SK_PREFIX,
  waiterSk,
} from './keys.ts';
import type { Item } from './records.ts';
import type { Transition } from './runStore.ts';
import type { KeyLimit, KeySlots, SlotLease, SlotStore, SlotWaiter } from './slotStore.ts';

/**
 * Keyed concurrency limits in the runs table, on a partition key per concurrency key
 * (`CONC#<key>`, lib/store/keys.ts): one table to deploy and grant, and a key's items are
 * few (its limit, at most `limit` slots, its waiters) and written about twice per attempt,
 * far below what one partition key takes. Slot and waiter items carry the table's TTL
 * (`expiresAt`, epoch seconds) just past their own expiry, so what a crashed worker leaves
 * goes; until then the conditions below treat an expired lease as free.
 */
export class DynamoSlotStore implements SlotStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async readSlots(key: string): Promise<KeySlots> {
    const items = await this.query({
      KeyConditionExpression: 'pk = :pk AND sk < :waiters',
      ExpressionAttributeValues: { ':pk': concurrencyPk(key), ':waiters': WAITER_SK_PREFIX },
    });
    const limitItem = items.find((item) => item.sk === LIMIT_SK);
    const leases = items.filter((item) => String(item.sk).startsWith(SLOT_SK_PREFIX)).map(leaseOf);
    return limitItem ? { limit: limitOf(limitItem), leases } : { leases };
  }

  async readWaiters(key: string, max: number): Promise<SlotWaiter[]> {
    const items = await this.query(
      {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :waiters)',
        ExpressionAttributeValues: { ':pk': concurrencyPk(key), ':waiters': WAITER_SK_PREFIX },
      },
      max,
    );
    return items.map(waiterOf);
  }

  async takeSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: concurrencyPk(lease.key),
            sk: slotSk(lease.slot),
            ...lease,
            expiresAt: ttl(lease.until),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #until <= :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return { ok: true, item: lease };
    } catch (error) {
      // Another attempt holds the slot (who, the caller does not need: it reads the key again).
      if (error instanceof ConditionalCheckFailedException) return { ok: false };
      throw error;
    }
  }

  async renewSlot(lease: SlotLease, now: number): Promise<Transition<SlotLease>> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: concurrencyPk(lease.key), sk: slotSk(lease.slot) },
          UpdateExpression: 'SET #until = :until, expiresAt = :ttl',
          ConditionExpression: 'holder = :holder AND #until > :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: {
            ':until': lease.until,
            ':ttl': ttl(lease.until),
            ':holder': lease.holder,
            ':now': now,
          },
        }),
      );
      return { ok: true, item: lease };
    } catch (error) {
      // The lease ended (its holder stalled past it), or another holder has the slot now.
      if (error instanceof ConditionalCheckFailedException) return { ok: false };
      throw error;
    }
  }

  async releaseSlot(key: string, slot: number, holder: string): Promise<boolean> {
    try {
      await this.ddb.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: concurrencyPk(key), sk: slotSk(slot) },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
      return true;
    } catch (error) {
      // The lease expired and another attempt took the slot, or a sweep deleted it.
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async putWaiter(waiter: SlotWaiter): Promise<void> {
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          pk: concurrencyPk(waiter.key),
          sk: waiterSk(waiter.since, waiter.holder),
          ...waiter,
          expiresAt: ttl(waiter.until),
        },
      }),
    );
  }

  async deleteWaiter(key: string, holder: string, since: number): Promise<void> {
    await this.ddb.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: concurrencyPk(key), sk: waiterSk(since, holder) },
      }),
    );
  }

  async declareKey(key: string, declared: number): Promise<void> {
    await this.updateLimit(key, 'SET declared = if_not_exists(declared, :n)', declared);
  }

  async setLimit(key: string, limit: number): Promise<void> {
    await this.updateLimit(key, 'SET #override = :n', limit);
  }

  async listKeys(): Promise<KeyLimit[]> {
    const keys: KeyLimit[] = [];
    let start: Item | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: BY_JOB_INDEX,
          KeyConditionExpression: 'gsi1pk = :pk',
          ExpressionAttributeValues: { ':pk': CONCURRENCY_GSI_PK },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      keys.push(...(page.Items ?? []).map(limitOf));
      start = page.LastEvaluatedKey;
    } while (start);
    return keys;
  }

  /** The limit item, created if need be, listed in the index under CONCURRENCY. */
  private async updateLimit(key: string, set: string, value: number): Promise<void> {
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: concurrencyPk(key), sk: LIMIT_SK },
        UpdateExpression: `${set}, #key = :key, gsi1pk = :gsiPk, gsi1sk = :key`,
        ExpressionAttributeNames: {
          '#key': 'key',
          ...(set.includes('#override') ? { '#override': 'override' } : {}),
        },
        ExpressionAttributeValues: { ':n': value, ':key': key, ':gsiPk': CONCURRENCY_GSI_PK },
      }),
    );
  }

  /** Every item of a query, page by page; at most `max` when given. */
  private async query(
    input: Pick<QueryCommand['input'], 'KeyConditionExpression' | 'ExpressionAttributeValues'>,
    max?: number,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.ddb.send(
        new QueryCommand({
          TableName: this.table,
          ...input,
          ...(max === undefined ? {} : { Limit: max - items.length }),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && (max === undefined || items.length < max));
    return items;
  }
}

/** The TTL of an item that stops mattering at `until` (epoch ms): a minute after it. */
const ttl = (until: number) => Math.ceil(until / 1000) + 60;

function leaseOf(item: Item): SlotLease {
  return {
    key: String(item.key),
    slot: Number(item.slot),
    holder: String(item.holder),
    until: Number(item.until),
  };
}

function waiterOf(item: Item): SlotWaiter {
  return {
    key: String(item.key),
    holder: String(item.holder),
    since: Number(item.since),
    until: Number(item.until),
  };
}

function limitOf(item: Item): KeyLimit {
  return {
    key: String(item.key),
    ...(item.declared === undefined ? {} : { declared: Number(item.declared) }),
    ...(item.override === undefined ? {} : { override: Number(item.override) }),
  };
}
