import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors.ts';
import { ERROR_CLASSES, ERROR_NAMES, LambdagError, NonRetryableError, Retry } from '../../lib/errors.ts';

/** Every class lib/errors.ts exports that extends LambdagError, found by walking its exports. */
const exportedClasses = Object.entries(errors).filter(
  ([, value]) => typeof value === 'function' && value.prototype instanceof LambdagError,
);

describe('the error classes', () => {
  it('are all in ERROR_CLASSES, so ERROR_NAMES names every one', () => {
    expect(exportedClasses.length).toBeGreaterThan(30);
    const registered = new Set<unknown>(ERROR_CLASSES);
    expect(exportedClasses.filter(([, cls]) => !registered.has(cls)).map(([name]) => name)).toEqual([]);
    expect(new Set(ERROR_NAMES).size).toBe(ERROR_CLASSES.length);
  });

  it('each declare their own literal name (the export name) and retry policy', () => {
    for (const [exported, cls] of exportedClasses) {
      expect(Object.hasOwn(cls, 'errorName'), exported).toBe(true);
      expect(Object.hasOwn(cls, 'retry'), exported).toBe(true);
      expect((cls as unknown as { errorName: string }).errorName).toBe(exported);
      expect(Object.values(Retry)).toContain((cls as unknown as { retry: unknown }).retry);
    }
  });

  it('carry their name on instances, where Lambda reads errorType', () => {
    expect(new errors.StepTimeoutError('s', 1).name).toBe('StepTimeoutError');
    expect(new errors.InvalidJobError('j', 'm').name).toBe('InvalidJobError');
    expect(new errors.DispatchFailedError(2)).toMatchObject({
      name: 'DispatchFailedError',
      code: 'DISPATCH_FAILED',
    });
  });

  it('have distinct codes', () => {
    const codes = Object.values(errors.ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('let step code subclass NonRetryableError under its own name', () => {
    class BadRow extends NonRetryableError {
      override readonly name = 'BadRow';
    }
    expect(new BadRow('row 3').name).toBe('BadRow');
  });
});
