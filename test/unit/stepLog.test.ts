import { describe, expect, it } from 'vitest';
import { MAX_LOG_BYTES, MAX_LOG_LINES, StepLogBuffer } from '../../lib/step/stepLog.ts';

const where = { runId: 'r', step: 's', attempt: 1 };
const at = () => new Date('2026-01-01T00:00:00.000Z');

describe('an attempt’s log lines', () => {
  it('keep their order, time and fields', () => {
    const buffer = new StepLogBuffer(where, at);
    expect(buffer.empty).toBe(true);
    buffer.add('one');
    buffer.add('two', { n: 2 });
    expect(buffer.document()).toEqual({
      ...where,
      lines: [
        { at: '2026-01-01T00:00:00.000Z', message: 'one' },
        { at: '2026-01-01T00:00:00.000Z', message: 'two', fields: { n: 2 } },
      ],
      dropped: 0,
    });
  });

  it('are bounded in count and in bytes; the lines past the bounds are counted as dropped', () => {
    const many = new StepLogBuffer(where, at);
    for (let i = 0; i < MAX_LOG_LINES + 5; i++) many.add(`line ${i}`);
    expect(many.document().lines).toHaveLength(MAX_LOG_LINES);
    expect(many.document().dropped).toBe(5);

    const big = new StepLogBuffer(where, at);
    for (let i = 0; i < 10; i++) big.add('x'.repeat(MAX_LOG_BYTES / 4));
    expect(big.document().lines).toHaveLength(3);
    expect(big.document().dropped).toBe(7);
  });
});
