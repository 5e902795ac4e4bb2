import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  ScanCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';

/** A table's TimeToLiveSpecification, as serverless.yml declares it. */
export interface TtlRule {
  readonly table: string;
  /** The key attributes (KeySchema), to delete by. */
  readonly keys: readonly string[];
  readonly attribute: string;
}

const BATCH_WRITE = 25;
/** DynamoDB's TTL leaves alone items whose expiry is more than five years in the past. */
const TTL_FLOOR_SECONDS = 5 * 365 * 86_400;

/**
 * DynamoDB TTL for the embedded stack (dynalite has no UpdateTimeToLive): delete the items
 * whose TTL attribute (a Number, epoch seconds) is at or before `now`. Unlike AWS, which
 * deletes within about 48 hours of the expiry and returns expired items until then, one
 * sweep deletes every expired item at once.
 */
export async function sweepExpiredItems(dynamodb: DynamoDBClient, rule: TtlRule, now: Date): Promise<number> {
  const nowSeconds = Math.floor(now.getTime() / 1000);
  let deleted = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const out = await dynamodb.send(
      new ScanCommand({
        TableName: rule.table,
        // Keys only; a string or absent attribute never compares with a number: kept, as on AWS.
        ProjectionExpression: rule.keys.map((_, i) => `#k${i}`).join(', '),
        FilterExpression: '#ttl <= :now AND #ttl >= :floor',
        ExpressionAttributeNames: {
          '#ttl': rule.attribute,
          ...Object.fromEntries(rule.keys.map((key, i) => [`#k${i}`, key])),
        },
        ExpressionAttributeValues: {
          ':now': { N: String(nowSeconds) },
          ':floor': { N: String(nowSeconds - TTL_FLOOR_SECONDS) },
        },
        ExclusiveStartKey: start,
      }),
    );
    const keys = out.Items ?? [];
    for (let i = 0; i < keys.length; i += BATCH_WRITE) {
      await deleteAll(
        dynamodb,
        rule.table,
        keys.slice(i, i + BATCH_WRITE).map((Key) => ({ DeleteRequest: { Key } })),
      );
    }
    deleted += keys.length;
    start = out.LastEvaluatedKey;
  } while (start);
  return deleted;
}

async function deleteAll(dynamodb: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  while (pending.length > 0) {
    const out = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
    pending = out.UnprocessedItems?.[table] ?? [];
  }
}
