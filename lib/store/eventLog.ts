import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { newRunId } from '../run/ids.ts';
import type { BatchWrites } from './batchWrites.ts';
import type { DynamoTable } from './dynamoTable.ts';
import { EVENT_SK_PREFIX, type RunLayout } from './keys.ts';
import { mergeSorted } from './mergeSorted.ts';
import { eventsOf, type Item, ttlOf } from './records.ts';
import type { PreparedEvent, RunExpiry } from './runStore.ts';
import type { RunEvent } from './types.ts';

/**
 * A run's events, in DynamoDB: items under EVT#, each on its step's partition key, sorted
 * by a time-ordered id given when the event happened (prepareEvent); a listing merges the
 * run's partition keys by it, so they list in order.
 */
export class EventLog {
  constructor(
    private readonly table: DynamoTable,
    private readonly batches: BatchWrites,
  ) {}

  appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void> {
    return this.putEvents([prepareEvent(this.table.layout, this.table.iso(), event, undefined, expiresAt)]);
  }

  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent {
    return prepareEvent(this.table.layout, this.table.iso(), event, startedAt, expiresAt);
  }

  /** One request for one event, BatchWriteItem (25 a request) for more. */
  async putEvents(events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.table.ddb.send(new PutCommand({ TableName: this.table.name, Item: events[0] }));
      return;
    }
    await this.batches.putItems(events.map((item) => ({ item })));
  }

  /**
   * One page: each partition key is read from the cursor on, at most `limit` items each
   * (a page holds no more), and the merge takes the first `limit`; the cursor is the last
   * item's sort key, which orders every partition's events alike.
   */
  async listEvents(
    runId: string,
    after?: string,
    limit?: number,
  ): Promise<{ events: RunEvent[]; cursor?: string }> {
    const partitions = this.table.layout.partitionPks(runId).map((pk) => this.eventsOn(pk, after, limit));
    const events: RunEvent[] = [];
    let cursor = after;
    let read = 0;
    for await (const item of mergeSorted(partitions, (item) => String(item.sk))) {
      if (limit !== undefined && read >= limit) break;
      events.push(...eventsOf(item));
      cursor = String(item.sk);
      read++;
    }
    return cursor === undefined ? { events } : { events, cursor };
  }

  /** One partition key's events after the cursor, in order, at most `limit`. */
  private async *eventsOn(
    pk: string,
    after: string | undefined,
    limit: number | undefined,
  ): AsyncGenerator<Item> {
    let start: Item | undefined;
    let read = 0;
    do {
      const out = await this.table.ddb.send(
        new QueryCommand({
          TableName: this.table.name,
          // After a cursor: the events past it only, not the step items that sort after them.
          KeyConditionExpression: after
            ? 'pk = :pk AND sk BETWEEN :after AND :end'
            : 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': pk,
            ...(after ? { ':after': after, ':end': EVENTS_END } : { ':prefix': EVENT_SK_PREFIX }),
          },
          ExclusiveStartKey: start,
          // One more than asked: BETWEEN includes the cursor's own item, skipped below.
          ...(limit === undefined ? {} : { Limit: limit - read + (after && !start ? 1 : 0) }),
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.sk === after) continue; // BETWEEN includes the cursor itself
        read++;
        yield item;
      }
      start = out.LastEvaluatedKey;
    } while (start && (limit === undefined || read < limit));
  }
}

/** Past every event's sort key. */
export const EVENTS_END = `${EVENT_SK_PREFIX}\uffff`;

/**
 * An event item stamped `now` (time and order), with its run's expiry; with `startedAt`, it
 * also stands for its attempt's STEP_START at that time (see RunStore.prepareEvent).
 */
export function prepareEvent(
  layout: RunLayout,
  now: string,
  event: Omit<RunEvent, 'at'>,
  startedAt?: string,
  expiresAt?: RunExpiry,
): PreparedEvent {
  return {
    ...event,
    at: now,
    ...(startedAt ? { startedAt } : {}),
    ...ttlOf(expiresAt),
    pk: layout.eventPk(event.runId, event.step),
    sk: `${EVENT_SK_PREFIX}${newRunId()}`,
  };
}
