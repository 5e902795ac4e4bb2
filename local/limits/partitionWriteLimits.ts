/**
 * DynamoDB's per-partition write limit, emulated at the embedded stack's edge: every write
 * to a table spends write units from a token bucket of its item's partition key, which
 * refills at `unitsPerSecond` (AWS: 1,000; a test scales it down so a 2-core machine shows
 * the shape of a hot key). A write past the bucket is refused as AWS refuses it:
 * ProvisionedThroughputExceededException for a single write, UnprocessedItems for the part
 * of a BatchWriteItem over the limit (the exception when none of it fits).
 *
 * What is not modelled: split for heat (a partition key's items share one bucket, as before
 * DynamoDB splits its range), burst capacity, reads, index writes, and the exact size of an
 * updated item (an UpdateItem or DeleteItem counts 1 unit; a put counts its JSON size in KB).
 */

/** What AWS serves a partition: 1,000 write units a second (docs/scaling.md has the source). */
export const AWS_PARTITION_WRITE_UNITS = 1_000;

export interface PartitionWriteLimitOptions {
  /** Write units a second per partition key (AWS: 1,000). */
  readonly unitsPerSecond: number;
  /** The hash key attribute of each table, by table name. */
  readonly hashKeys: ReadonlyMap<string, string>;
  /** The range key attribute of each table that has one (to name throttled items). */
  readonly rangeKeys?: ReadonlyMap<string, string>;
  readonly now?: () => number;
}

/** What a write request may do: pass, pass in part (a batch), or be refused. */
export type Admission =
  | { readonly kind: 'pass' }
  | {
      readonly kind: 'partial';
      readonly body: Record<string, unknown>;
      readonly unprocessed: Record<string, unknown[]>;
    }
  | { readonly kind: 'throttled'; readonly message: string };

export interface ThrottleCount {
  readonly table: string;
  readonly partitionKey: string;
  /** The item's range key, when the table has one. */
  readonly item?: string;
  readonly throttled: number;
}

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

const WRITE_TARGETS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

export class PartitionWriteLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly throttles = new Map<
    string,
    { table: string; partitionKey: string; item?: string; n: number }
  >();
  private readonly now: () => number;

  constructor(private readonly options: PartitionWriteLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether the gateway must read this DynamoDB request (X-Amz-Target `DynamoDB_20120810.<Op>`). */
  static isWrite(target: string | undefined): boolean {
    return WRITE_TARGETS.has(target?.split('.')[1] ?? '');
  }

  admit(target: string, body: Record<string, unknown>): Admission {
    const operation = target.split('.')[1];
    if (operation === 'BatchWriteItem') return this.admitBatch(body);
    const table = String(body.TableName ?? '');
    const item = (operation === 'PutItem' ? body.Item : body.Key) as Item | undefined;
    if (!item) return { kind: 'pass' };
    const units = operation === 'PutItem' ? unitsOf(item) : 1;
    if (this.take(table, item, units)) return { kind: 'pass' };
    return { kind: 'throttled', message: this.throttledMessage(table) };
  }

  /** The writes refused so far, by partition key and item, most throttled first. */
  throttled(): ThrottleCount[] {
    return [...this.throttles.values()]
      .map(({ table, partitionKey, item, n }) => ({
        table,
        partitionKey,
        ...(item === undefined ? {} : { item }),
        throttled: n,
      }))
      .sort((a, b) => b.throttled - a.throttled);
  }

  private admitBatch(body: Record<string, unknown>): Admission {
    const requests = (body.RequestItems ?? {}) as Record<
      string,
      { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]
    >;
    const admitted: Record<string, unknown[]> = {};
    const unprocessed: Record<string, unknown[]> = {};
    let passed = 0;
    let refused = 0;
    for (const [table, writes] of Object.entries(requests)) {
      for (const write of writes) {
        const item = write.PutRequest?.Item ?? write.DeleteRequest?.Key;
        const units = write.PutRequest ? unitsOf(write.PutRequest.Item) : 1;
        const fits = !item || this.take(table, item, units);
        const into = fits ? admitted : unprocessed;
        into[table] = [...(into[table] ?? []), write];
        if (fits) passed++;
        else refused++;
      }
    }
    if (refused === 0) return { kind: 'pass' };
    if (passed === 0) {
      return { kind: 'throttled', message: this.throttledMessage(Object.keys(requests).join(', ')) };
    }
    return { kind: 'partial', body: { ...body, RequestItems: admitted }, unprocessed };
  }

  private take(table: string, item: Item, units: number): boolean {
    const hashKey = this.options.hashKeys.get(table);
    const partitionKey = hashKey ? scalarOf(item[hashKey]) : undefined;
    if (partitionKey === undefined) return true;
    const key = `${table}\u0000${partitionKey}`;
    const rate = this.options.unitsPerSecond;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: rate, at: now };
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= units) {
      bucket.tokens -= units;
      return true;
    }
    const rangeKey = this.options.rangeKeys?.get(table);
    const itemKey = rangeKey ? scalarOf(item[rangeKey]) : undefined;
    const countKey = `${key}\u0000${itemKey ?? ''}`;
    const count = this.throttles.get(countKey) ?? {
      table,
      partitionKey,
      ...(itemKey === undefined ? {} : { item: itemKey }),
      n: 0,
    };
    count.n++;
    this.throttles.set(countKey, count);
    return false;
  }

  private throttledMessage(table: string): string {
    return `The level of configured provisioned throughput for the table was exceeded (${table}: the embedded stack's partition limit of ${this.options.unitsPerSecond} write units a second per partition key).`;
  }
}

/** A put's write units: its size in KB, rounded up (its JSON stands in for DynamoDB's byte count). */
function unitsOf(item: Item): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(JSON.stringify(item)) / 1024));
}

function scalarOf(value: AttributeValue | undefined): string | undefined {
  if (!value) return undefined;
  const scalar = value.S ?? value.N ?? value.B;
  return scalar === undefined ? undefined : String(scalar);
}
