import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** The record's attributes: Powertools' defaults, so the table holds what its DynamoDB layer writes. */
const ATTRIBUTES = {
  keyAttr: 'id',
  expiryAttr: 'expiration',
  inProgressExpiryAttr: 'in_progress_expiration',
  statusAttr: 'status',
  dataAttr: 'data',
} as const;

/** An attempt's COMPLETED idempotency record, as an item of its table. */
export interface CompletedRecord {
  readonly table: string;
  readonly key: Readonly<Record<string, unknown>>;
  readonly item: Readonly<Record<string, unknown>>;
}

/** Takes COMPLETED records to write with other items; false to have the layer write it itself. */
export interface CompletedRecordSink {
  completed(record: CompletedRecord): boolean;
}

/**
 * The step attempts' idempotency records in DynamoDB: a custom Powertools persistence layer,
 * implementing the four methods Powertools documents for one (`_getRecord`, `_putRecord`,
 * `_updateRecord`, `_deleteRecord`). It writes what Powertools' DynamoDB layer writes, with
 * the same conditions, in the same requests, except one: a COMPLETED record can go to a
 * `sink` (the worker invocation's AttemptEffects), which writes it with the attempt's
 * outcome event in one BatchWriteItem instead of an UpdateItem of its own. Powertools'
 * update is unconditional and sets the same attributes, so a put of the whole record stores
 * what it would. Payload validation is not supported (lambdag does not enable it).
 */
export class AttemptRecords extends BasePersistenceLayer {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBClient,
    private readonly sink?: CompletedRecordSink,
  ) {
    super();
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: this.keyOf(idempotencyKey), ConsistentRead: true }),
    );
    if (!out.Item) throw new IdempotencyItemNotFoundError();
    return recordOf(unmarshall(out.Item));
  }

  /**
   * The INPROGRESS record: written if there is none, or it expired, or it is an INPROGRESS
   * record whose holder's time ran out. Otherwise the existing record comes back with the
   * error (Powertools decides from it; the worker reads its in-progress expiry).
   */
  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const item = {
      ...this.keyOf(record.idempotencyKey),
      ...marshall({
        [ATTRIBUTES.expiryAttr]: record.expiryTimestamp,
        [ATTRIBUTES.statusAttr]: record.getStatus(),
      }),
      ...(record.inProgressExpiryTimestamp === undefined
        ? {}
        : { [ATTRIBUTES.inProgressExpiryAttr]: { N: String(record.inProgressExpiryTimestamp) } }),
    };
    const now = Date.now();
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression:
            'attribute_not_exists(#id) OR #expiry < :now OR ' +
            '(#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)',
          ExpressionAttributeNames: {
            '#id': ATTRIBUTES.keyAttr,
            '#expiry': ATTRIBUTES.expiryAttr,
            '#in_progress_expiry': ATTRIBUTES.inProgressExpiryAttr,
            '#status': ATTRIBUTES.statusAttr,
          },
          ExpressionAttributeValues: marshall({
            ':now': now / 1000,
            ':now_in_millis': now,
            ':inprogress': IdempotencyRecordStatus.INPROGRESS,
          }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new IdempotencyItemAlreadyExistsError(
        `Failed to put record for already existing idempotency key: ${record.idempotencyKey}`,
        error.Item ? recordOf(unmarshall(error.Item)) : undefined,
      );
    }
  }

  /** The COMPLETED record: to the sink when it takes it, else one UpdateItem (as Powertools'). */
  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const status = record.getStatus();
    if (status === IdempotencyRecordStatus.COMPLETED && this.sink) {
      const key = { [ATTRIBUTES.keyAttr]: record.idempotencyKey };
      const taken = this.sink.completed({
        table: this.table,
        key,
        item: {
          ...key,
          [ATTRIBUTES.statusAttr]: status,
          ...(record.expiryTimestamp === undefined
            ? {}
            : { [ATTRIBUTES.expiryAttr]: record.expiryTimestamp }),
          ...(record.responseData === undefined ? {} : { [ATTRIBUTES.dataAttr]: record.responseData }),
        },
      });
      if (taken) return;
    }
    const withData = record.responseData !== undefined;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.keyOf(record.idempotencyKey),
        UpdateExpression: `SET #expiry = :expiry, #status = :status${withData ? ', #response_data = :response_data' : ''}`,
        ExpressionAttributeNames: {
          '#expiry': ATTRIBUTES.expiryAttr,
          '#status': ATTRIBUTES.statusAttr,
          ...(withData ? { '#response_data': ATTRIBUTES.dataAttr } : {}),
        },
        ExpressionAttributeValues: marshall({
          ':expiry': record.expiryTimestamp,
          ':status': status,
          ...(withData ? { ':response_data': record.responseData } : {}),
        }),
      }),
    );
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.table, Key: this.keyOf(record.idempotencyKey) }),
    );
  }

  private keyOf(idempotencyKey: string) {
    return marshall({ [ATTRIBUTES.keyAttr]: idempotencyKey });
  }
}

type RecordOptions = ConstructorParameters<typeof IdempotencyRecord>[0];

function recordOf(item: Record<string, unknown>): IdempotencyRecord {
  return new IdempotencyRecord({
    idempotencyKey: item[ATTRIBUTES.keyAttr] as string,
    status: item[ATTRIBUTES.statusAttr] as RecordOptions['status'],
    expiryTimestamp: item[ATTRIBUTES.expiryAttr] as number | undefined,
    inProgressExpiryTimestamp: item[ATTRIBUTES.inProgressExpiryAttr] as number | undefined,
    responseData: item[ATTRIBUTES.dataAttr] as RecordOptions['responseData'],
  });
}
