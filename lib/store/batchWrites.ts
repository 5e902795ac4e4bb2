import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type DynamoTable, pauseBeforeRound } from './dynamoTable.ts';
import type { Item } from './records.ts';
import type { TablePut } from './runStore.ts';

/** Items one BatchWriteItem takes, whatever their tables. */
export const BATCH_WRITE = 25;

/** A put or delete of one BatchWriteItem. */
type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

/**
 * Unconditional writes in bulk, in the runs table or another (an attempt's idempotency
 * record goes with its events): BatchWriteItem, 25 items a request, with the items
 * DynamoDB left unprocessed sent again after a pause.
 */
export class BatchWrites {
  constructor(private readonly table: DynamoTable) {}

  /** Puts, `table` defaulting to the runs table: 25 a request, the runs table's and others' together. */
  async putItems(puts: readonly TablePut[]): Promise<void> {
    for (let i = 0; i < puts.length; i += BATCH_WRITE) {
      const requestItems: Record<string, WriteRequest[]> = {};
      for (const put of puts.slice(i, i + BATCH_WRITE)) {
        const table = put.table ?? this.table.name;
        const requests = requestItems[table] ?? [];
        requests.push({ PutRequest: { Item: put.item as Item } });
        requestItems[table] = requests;
      }
      await this.batchWrite(requestItems);
    }
  }

  /** Deletes by key in another table (an attempt's idempotency record): 25 a request. */
  async deleteItems(table: string, keys: readonly object[]): Promise<void> {
    for (let i = 0; i < keys.length; i += BATCH_WRITE) {
      await this.batchWrite({
        [table]: keys.slice(i, i + BATCH_WRITE).map((key) => ({ DeleteRequest: { Key: key as Item } })),
      });
    }
  }

  /** Puts of up to 25 items of the runs table, in one request (and its rounds of unprocessed items). */
  putChunk(items: readonly Item[]): Promise<void> {
    return this.batchWrite({ [this.table.name]: items.map((Item) => ({ PutRequest: { Item } })) });
  }

  /** One BatchWriteItem (at most 25 requests), sent again with its unprocessed items until none is left. */
  private async batchWrite(requestItems: Record<string, WriteRequest[]>): Promise<void> {
    let pending = requestItems;
    for (let round = 0; Object.values(pending).some((requests) => requests.length > 0); round++) {
      if (round > 0) await pauseBeforeRound(round);
      const out = await this.table.ddb.send(new BatchWriteCommand({ RequestItems: pending }));
      pending = (out.UnprocessedItems ?? {}) as typeof pending;
    }
  }
}
