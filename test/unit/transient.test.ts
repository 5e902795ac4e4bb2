import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { describe, expect, it } from 'vitest';
import { inProgressRetrySeconds } from '../../handlers/stepWorker.ts';
import { isTransientAwsError, withTransientRetries } from '../../lib/aws/transient.ts';

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('isTransientAwsError', () => {
  it('knows throttling, 5xx and dropped connections, and looks through wrapping errors', () => {
    expect(isTransientAwsError(throttled())).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toBe(
      true,
    );
    expect(isTransientAwsError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientAwsError(new Error('Failed to delete record', { cause: throttled() }))).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error('no'), { name: 'ValidationException' }))).toBe(false);
    expect(isTransientAwsError('ThrottlingException')).toBe(false);
  });
});

describe('withTransientRetries', () => {
  it('tries again after transient errors and returns the first success', async () => {
    let calls = 0;
    const delays: number[] = [];
    const value = await withTransientRetries(
      async () => {
        calls++;
        if (calls < 3) throw throttled();
        return 'done';
      },
      { tries: 3, baseMs: 1, maxMs: 4, random: () => 1, onRetry: (_e, _n, ms) => delays.push(ms) },
    );
    expect(value).toBe('done');
    expect(calls).toBe(3);
    expect(delays).toEqual([1, 2]);
  });

  it('throws the last transient error after its tries, and any other error at once', async () => {
    let calls = 0;
    await expect(
      withTransientRetries(
        async () => {
          calls++;
          throw throttled();
        },
        { tries: 2, baseMs: 1, maxMs: 1 },
      ),
    ).rejects.toThrow('Rate exceeded');
    expect(calls).toBe(2);

    calls = 0;
    await expect(
      withTransientRetries(
        async () => {
          calls++;
          throw new TypeError('a bug');
        },
        { tries: 5, baseMs: 1, maxMs: 1 },
      ),
    ).rejects.toThrow('a bug');
    expect(calls).toBe(1);
  });

  it('stops early when told to give up (the circuit opened)', async () => {
    let calls = 0;
    await expect(
      withTransientRetries(
        async () => {
          calls++;
          throw throttled();
        },
        { tries: 5, baseMs: 1, maxMs: 1, giveUp: () => true },
      ),
    ).rejects.toThrow('Rate exceeded');
    expect(calls).toBe(1);
  });
});

describe('inProgressRetrySeconds', () => {
  const now = 1_000_000;
  const inProgress = (expiry?: number) =>
    new IdempotencyAlreadyInProgressError(
      'in progress',
      new IdempotencyRecord({
        idempotencyKey: 'k',
        status: 'INPROGRESS',
        ...(expiry === undefined ? {} : { inProgressExpiryTimestamp: expiry }),
      }),
    );

  it("comes back just after the holder's in-progress record expires", () => {
    expect(inProgressRetrySeconds(inProgress(now + 29_500), 60_000, now)).toBe(31);
    expect(inProgressRetrySeconds(inProgress(now - 5_000), 60_000, now)).toBe(1);
  });

  it("falls back to this invocation's remaining time when the record does not say", () => {
    expect(inProgressRetrySeconds(inProgress(), 30_000, now)).toBe(31);
  });

  it('never asks SQS for more than 12 hours', () => {
    expect(inProgressRetrySeconds(inProgress(now + 100 * 3_600_000), 0, now)).toBe(43_200);
  });
});
