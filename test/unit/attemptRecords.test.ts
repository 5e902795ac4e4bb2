import {
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { AttemptRecords, type CompletedRecord } from '../../lib/step/attemptRecords.ts';

const TABLE = 'idempotency';

function layer(send: (command: unknown) => Promise<unknown>, taken?: boolean) {
  const completed: CompletedRecord[] = [];
  const completedBy = (r: CompletedRecord) => {
    completed.push(r);
    return taken === true;
  };
  const sink = taken === undefined ? undefined : { completed: completedBy };
  const client = { send: vi.fn(send) } as unknown as DynamoDBClient & { send: ReturnType<typeof vi.fn> };
  const records = new AttemptRecords(TABLE, client, sink);
  records.configure({
    config: new IdempotencyConfig({ eventKeyJmesPath: 'key' }),
    keyPrefix: 'lambdag-step',
  });
  return { records, client, completed };
}

describe('AttemptRecords (the attempts’ idempotency persistence layer)', () => {
  it('hands a COMPLETED record to a sink that takes it, with no request of its own', async () => {
    const { records, client, completed } = layer(async () => ({}), true);
    await records.saveSuccess({ key: 'run#a#1' }, { status: 'SUCCEEDED' });
    expect(client.send).not.toHaveBeenCalled();
    expect(completed).toHaveLength(1);
    const [record] = completed;
    expect(record?.table).toBe(TABLE);
    expect(record?.key).toEqual({ id: expect.stringMatching(/^lambdag-step#/) });
    expect(record?.item).toMatchObject({
      ...record?.key,
      status: IdempotencyRecordStatus.COMPLETED,
      expiration: expect.any(Number),
      data: { status: 'SUCCEEDED' },
    });
  });

  it('writes a COMPLETED record with one UpdateItem when there is no batch to take it', async () => {
    for (const taken of [undefined, false]) {
      const { records, client } = layer(async () => ({}), taken);
      await records.saveSuccess({ key: 'run#a#1' }, { status: 'SUCCEEDED' });
      expect(client.send).toHaveBeenCalledTimes(1);
      const command = client.send.mock.calls[0]?.[0];
      expect(command).toBeInstanceOf(UpdateItemCommand);
      expect((command as UpdateItemCommand).input.UpdateExpression).toBe(
        'SET #expiry = :expiry, #status = :status, #response_data = :response_data',
      );
    }
  });

  it('puts the INPROGRESS record conditionally, and returns the holder’s record when it exists', async () => {
    const held = { id: 'x', status: 'INPROGRESS', expiration: 9e9, in_progress_expiration: 123_456 };
    const { records, client } = layer(async () => {
      throw new ConditionalCheckFailedException({ message: 'held', $metadata: {}, Item: marshall(held) });
    });
    const saving = records.saveInProgress({ key: 'run#a#1' }, 30_000);
    await expect(saving).rejects.toBeInstanceOf(IdempotencyItemAlreadyExistsError);
    const error = (await saving.catch((e: unknown) => e)) as IdempotencyItemAlreadyExistsError;
    expect(error.existingRecord?.inProgressExpiryTimestamp).toBe(123_456);
    const put = client.send.mock.calls[0]?.[0] as PutItemCommand;
    expect(put).toBeInstanceOf(PutItemCommand);
    expect(put.input.ConditionExpression).toContain('attribute_not_exists(#id)');
    expect(put.input.Item?.in_progress_expiration).toBeDefined();
  });
});
