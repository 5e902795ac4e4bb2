import { IdempotencyAlreadyInProgressError } from '@aws-lambda-powertools/idempotency';
import { IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import { describe, expect, it } from 'vitest';
import {
  decideRedelivery,
  inProgressRetrySeconds,
  MAX_REQUEUES,
  MAX_VISIBILITY_SECONDS,
  type RecordFailure,
  transientRetrySeconds,
} from '../../lib/step/redelivery.ts';

const limits = { maxReceiveCount: 5 };
/** Receive 4 of 5 is the last one the worker sees before SQS moves the message to the DLQ. */
const early = { receiveCount: 1, requeues: 0 };
const last = { receiveCount: 4, requeues: 0 };
const top = () => 1;
const bottom = () => 0;

describe('decideRedelivery', () => {
  it('sends poison back at once and never requeues it, even on its last receive', () => {
    for (const delivery of [early, last, { receiveCount: 9, requeues: 0 }]) {
      expect(decideRedelivery({ kind: 'poison' }, delivery, limits)).toEqual({
        action: 'retry',
        visibilitySeconds: 0,
      });
    }
  });

  it('brings an attempt held elsewhere back when its holder’s record expires', () => {
    expect(decideRedelivery({ kind: 'in-progress', retryInSeconds: 31 }, early, limits)).toEqual({
      action: 'retry',
      visibilitySeconds: 31,
    });
  });

  it('hands a record back for the circuit’s cool-down, rounded up to seconds', () => {
    expect(decideRedelivery({ kind: 'circuit-open', blockedMs: 4_200 }, early, limits)).toEqual({
      action: 'retry',
      visibilitySeconds: 5,
    });
  });

  it('backs a transient or other error off with jitter on the receive count', () => {
    for (const kind of ['transient', 'error'] as const) {
      expect(decideRedelivery({ kind }, { receiveCount: 3, requeues: 0 }, limits, top)).toEqual({
        action: 'retry',
        visibilitySeconds: 8,
      });
      expect(decideRedelivery({ kind }, { receiveCount: 3, requeues: 0 }, limits, bottom)).toEqual({
        action: 'retry',
        visibilitySeconds: 1,
      });
    }
  });

  it('requeues any failure but poison on its last receive, with the delay it would have waited', () => {
    const cases: [RecordFailure, number][] = [
      [{ kind: 'in-progress', retryInSeconds: 31 }, 31],
      [{ kind: 'circuit-open', blockedMs: 30_000 }, 30],
      [{ kind: 'transient' }, 16],
      [{ kind: 'error' }, 16],
    ];
    for (const [failure, seconds] of cases) {
      expect(decideRedelivery(failure, last, limits, top)).toEqual({
        action: 'requeue',
        delaySeconds: seconds,
        requeues: 1,
        visibilitySeconds: seconds,
      });
    }
  });

  it('requeues from the receive before maxReceiveCount on, counting the requeues', () => {
    expect(decideRedelivery({ kind: 'error' }, { receiveCount: 3, requeues: 0 }, limits, top).action).toBe(
      'retry',
    );
    expect(decideRedelivery({ kind: 'error' }, { receiveCount: 5, requeues: 2 }, limits, top)).toMatchObject({
      action: 'requeue',
      requeues: 3,
    });
  });

  it('leaves a message to the DLQ after MAX_REQUEUES requeues, whatever the failure (circuit open too)', () => {
    const spent = { receiveCount: 4, requeues: MAX_REQUEUES };
    const failures: RecordFailure[] = [
      { kind: 'circuit-open', blockedMs: 30_000 },
      { kind: 'in-progress', retryInSeconds: 31 },
      { kind: 'transient' },
      { kind: 'error' },
    ];
    for (const failure of failures) {
      expect(decideRedelivery(failure, spent, limits, top).action).toBe('retry');
    }
  });
});

describe('transientRetrySeconds', () => {
  it('draws up to 2^receives seconds, at least one, at most five minutes', () => {
    expect([1, 2, 3, 4].map((r) => transientRetrySeconds(r, top))).toEqual([2, 4, 8, 16]);
    expect(transientRetrySeconds(1, bottom)).toBe(1);
    expect(transientRetrySeconds(20, top)).toBe(300);
  });
});

describe('inProgressRetrySeconds (lib/step/redelivery.ts)', () => {
  const held = (inProgressExpiryTimestamp?: number) =>
    new IdempotencyAlreadyInProgressError(
      'in progress',
      new IdempotencyRecord({
        idempotencyKey: 'k',
        status: 'INPROGRESS',
        ...(inProgressExpiryTimestamp === undefined ? {} : { inProgressExpiryTimestamp }),
      }),
    );

  it('waits for the holder’s expiry, else this invocation’s remaining time, capped by SQS', () => {
    const now = 1_000_000;
    expect(inProgressRetrySeconds(held(now + 10_000), 60_000, now)).toBe(11);
    expect(inProgressRetrySeconds(held(), 20_000, now)).toBe(21);
    expect(inProgressRetrySeconds(held(now + 100 * 3_600_000), 0, now)).toBe(MAX_VISIBILITY_SECONDS);
  });
});
