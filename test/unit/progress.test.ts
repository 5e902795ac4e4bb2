import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressReporter } from '../../lib/step/progress.ts';

describe('a step reporting progress', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes the first report at once, then at most one a second: the latest one', async () => {
    const written: string[] = [];
    const reporter = new ProgressReporter(
      async (text) => {
        written.push(text);
      },
      () => {},
    );
    reporter.report('1');
    reporter.report('2');
    reporter.report('3');
    await vi.advanceTimersByTimeAsync(999);
    expect(written).toEqual(['1']);
    await vi.advanceTimersByTimeAsync(1);
    expect(written).toEqual(['1', '3']);
    reporter.report('4');
    await reporter.close();
    expect(written).toEqual(['1', '3', '4']);
  });

  it('takes no report after close, and hands a failed write to onError instead of throwing', async () => {
    const errors: unknown[] = [];
    const reporter = new ProgressReporter(
      () => Promise.reject(new Error('throttled')),
      (error) => errors.push(error),
    );
    reporter.report('a');
    await reporter.close();
    reporter.report('b');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('throttled');
  });
});
