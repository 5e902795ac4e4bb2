import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { newRunId } from '../run/ids.ts';
import type { BatchWrites } from './batchWrites.ts';
import type { DynamoTable } from './dynamoTable.ts';
import { EVENT_SK_PREFIX, runPk } from './keys.ts';
import { eventsOf, type Item, ttlOf } from './records.ts';
import type { PreparedEvent, RunExpiry } from './runStore.ts';
import type { RunEvent } from './types.ts';

/**
 * A run's events, in DynamoDB: items of the run's partition under EVT#, sorted by a
 * time-ordered id given when the event happened (prepareEvent), so they list in order.
 */
export class EventLog {
  constructor(
    private readonly table: DynamoTable,
    private readonly batches: BatchWrites,
  ) {}

  appendEvent(event: Omit<RunEvent, 'at'>, expiresAt: RunExpiry): Promise<void> {
    return this.putEvents([prepareEvent(this.table.iso(), event, undefined, expiresAt)]);
  }

  prepareEvent(event: Omit<RunEvent, 'at'>, startedAt?: string, expiresAt?: RunExpiry): PreparedEvent {
    return prepareEvent(this.table.iso(), event, startedAt, expiresAt);
  }

  /** One request for one event, BatchWriteItem (25 a request) for more. */
  async putEvents(events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 1) {
      await this.table.ddb.send(new PutCommand({ TableName: this.table.name, Item: events[0] }));
      return;
    }
    await this.batches.putItems(events.map((item) => ({ item })));
  }

  async listEvents(
    runId: string,
    after?: string,
    limit?: number,
  ): Promise<{ events: RunEvent[]; cursor?: string }> {
    const events: RunEvent[] = [];
    let cursor = after;
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
            ':pk': runPk(runId),
            ...(after ? { ':after': after, ':end': EVENTS_END } : { ':prefix': EVENT_SK_PREFIX }),
          },
          ExclusiveStartKey: start,
          // One more than asked: BETWEEN includes the cursor's own item, skipped below.
          ...(limit === undefined ? {} : { Limit: limit - read + (after && !start ? 1 : 0) }),
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.sk === after) continue; // BETWEEN includes the cursor itself
        events.push(...eventsOf(item));
        cursor = String(item.sk);
        read++;
      }
      start = out.LastEvaluatedKey;
    } while (start && (limit === undefined || read < limit));
    return cursor === undefined ? { events } : { events, cursor };
  }
}

/** Past every event's sort key. */
export const EVENTS_END = `${EVENT_SK_PREFIX}\uffff`;

/**
 * An event item stamped `now` (time and order), with its run's expiry; with `startedAt`, it
 * also stands for its attempt's STEP_START at that time (see RunStore.prepareEvent).
 */
export function prepareEvent(
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
    pk: runPk(event.runId),
    sk: `${EVENT_SK_PREFIX}${newRunId()}`,
  };
}
