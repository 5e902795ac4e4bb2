import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { forEachLimit } from '../concurrency.ts';
import type { DynamoTable } from './dynamoTable.ts';
import type { Item } from './records.ts';

/** Conditional puts in flight at once for one call. */
const PARALLEL_PUTS = 16;

/**
 * Items of the runs table written only where none is: one PutItem each with
 * `attribute_not_exists(pk)`. BatchWriteItem takes no condition, so a batch that lands late
 * (its writer slow, not dead) would put back an item that has moved on since; these cannot.
 * Returns how many were created; one that exists is left as it is.
 */
export async function createItems(table: DynamoTable, items: readonly Item[]): Promise<number> {
  let created = 0;
  await forEachLimit(items, PARALLEL_PUTS, async (item) => {
    try {
      await table.ddb.send(
        new PutCommand({
          TableName: table.name,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      created++;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  });
  return created;
}
