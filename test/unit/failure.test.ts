import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  InvalidInputError,
  NonRetryableError,
  ReleaseFailedError,
  Retry,
  StepTimeoutError,
  TransientAwsError,
} from '../../lib/errors.ts';
import { classifyFailure } from '../../lib/failure.ts';

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('classifyFailure', () => {
  describe("lambdag's own errors", () => {
    it('follow the policy their class declares', () => {
      expect(classifyFailure(new NonRetryableError('no'))).toEqual(Retry.FINAL);
      expect(classifyFailure(new InvalidInputError('bad'))).toEqual(Retry.FINAL);
      expect(classifyFailure(new ConfigError('X', 'is not set'))).toEqual(Retry.FINAL);
      expect(classifyFailure(new StepTimeoutError('s', 1))).toEqual(Retry.RETRYABLE);
      expect(classifyFailure(new TransientAwsError(throttled()))).toEqual(Retry.TRANSIENT);
    });

    it("keep NonRetryableError's policy in step code's subclasses", () => {
      class BadRow extends NonRetryableError {
        override readonly name = 'BadRow';
      }
      expect(classifyFailure(new BadRow('row 3'))).toEqual(Retry.FINAL);
    });

    it('are transient when a transient AWS error is their cause', () => {
      expect(classifyFailure(new ReleaseFailedError(['a'], { cause: throttled() }))).toEqual(Retry.TRANSIENT);
      expect(classifyFailure(new ReleaseFailedError(['a']))).toEqual(Retry.RETRYABLE);
    });
  });

  describe('AWS SDK and network errors', () => {
    it('are transient for throttling, 5xx, SDK-retryable and dropped connections', () => {
      expect(classifyFailure(throttled())).toEqual(Retry.TRANSIENT);
      expect(classifyFailure(Object.assign(new Error('x'), { $metadata: { httpStatusCode: 503 } }))).toEqual(
        Retry.TRANSIENT,
      );
      expect(classifyFailure(Object.assign(new Error('x'), { $retryable: {} }))).toEqual(Retry.TRANSIENT);
      expect(classifyFailure(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toEqual(Retry.TRANSIENT);
    });

    it('look through up to three wrapping causes', () => {
      const wrapped = (depth: number): Error =>
        depth === 0 ? throttled() : new Error(`wrap ${depth}`, { cause: wrapped(depth - 1) });
      expect(classifyFailure(wrapped(3)).transient).toBe(true);
      expect(classifyFailure(wrapped(4)).transient).toBe(false);
    });

    it('are not transient for client errors', () => {
      const validation = Object.assign(new Error('no'), {
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 },
      });
      expect(classifyFailure(validation)).toEqual(Retry.RETRYABLE);
    });
  });

  it("leaves step code's own errors, and non-errors, retryable and not transient", () => {
    expect(classifyFailure(new TypeError('x is undefined'))).toEqual(Retry.RETRYABLE);
    expect(classifyFailure('ThrottlingException')).toEqual(Retry.RETRYABLE);
    expect(classifyFailure(undefined)).toEqual(Retry.RETRYABLE);
  });
});
