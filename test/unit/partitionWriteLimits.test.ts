import { describe, expect, it } from 'vitest';
import { PartitionWriteLimits } from '../../local/limits/partitionWriteLimits.ts';

const PUT = 'DynamoDB_20120810.PutItem';
const UPDATE = 'DynamoDB_20120810.UpdateItem';
const BATCH = 'DynamoDB_20120810.BatchWriteItem';

function limits(unitsPerSecond: number) {
  let now = 0;
  const limiter = new PartitionWriteLimits({
    unitsPerSecond,
    hashKeys: new Map([['runs', 'pk']]),
    rangeKeys: new Map([['runs', 'sk']]),
    now: () => now,
  });
  return { limiter, advance: (ms: number) => (now += ms) };
}
const key = (pk: string, sk: string) => ({ pk: { S: pk }, sk: { S: sk } });

describe('PartitionWriteLimits', () => {
  it('serves a partition key its units a second, then refuses, then refills', () => {
    const { limiter, advance } = limits(2);
    const update = { TableName: 'runs', Key: key('RUN#a', 'RUN') };
    expect(limiter.admit(UPDATE, update).kind).toBe('pass');
    expect(limiter.admit(UPDATE, update).kind).toBe('pass');
    const refused = limiter.admit(UPDATE, update);
    expect(refused).toMatchObject({
      kind: 'throttled',
      message: expect.stringMatching(/2 write units a second/),
    });
    // Another partition key has its own bucket.
    expect(limiter.admit(UPDATE, { TableName: 'runs', Key: key('RUN#b', 'RUN') }).kind).toBe('pass');
    advance(500);
    expect(limiter.admit(UPDATE, update).kind).toBe('pass');
    expect(limiter.throttled()).toEqual([
      { table: 'runs', partitionKey: 'RUN#a', item: 'RUN', throttled: 1 },
    ]);
  });

  it('charges a put its size in KB, and leaves tables it has no key for alone', () => {
    const { limiter } = limits(2);
    const big = { TableName: 'runs', Item: { ...key('RUN#a', 'STEP#x'), blob: { S: 'x'.repeat(1_500) } } };
    expect(limiter.admit(PUT, big).kind).toBe('pass');
    expect(limiter.admit(PUT, big).kind).toBe('throttled');
    expect(limiter.admit(PUT, { TableName: 'other', Item: { id: { S: '1' } } }).kind).toBe('pass');
    expect(PartitionWriteLimits.isWrite(PUT)).toBe(true);
    expect(PartitionWriteLimits.isWrite('DynamoDB_20120810.GetItem')).toBe(false);
  });

  it('passes the part of a batch that fits and hands back the rest as UnprocessedItems', () => {
    const { limiter } = limits(2);
    const put = (sk: string) => ({ PutRequest: { Item: key('RUN#a', sk) } });
    const admission = limiter.admit(BATCH, { RequestItems: { runs: [put('E1'), put('E2'), put('E3')] } });
    expect(admission).toEqual({
      kind: 'partial',
      body: { RequestItems: { runs: [put('E1'), put('E2')] } },
      unprocessed: { runs: [put('E3')] },
    });
    // Nothing fits: the whole request is refused, as DynamoDB throws when no item is processed.
    expect(limiter.admit(BATCH, { RequestItems: { runs: [put('E4')] } }).kind).toBe('throttled');
  });
});
