import { describe, expect, it } from 'vitest';
import { continuationName, handOver } from '../../lib/run/continueAsNew.ts';
import { RUN_ID, runIdForClientToken } from '../../lib/run/ids.ts';

/** 1-80 characters Step Functions accepts in an execution name (and CloudWatch Logs in a stream name). */
const VALID_NAME = /^[0-9A-Za-z_-]{1,80}$/;

describe('the name of the execution that continues a run', () => {
  it('is `{runId}-g{n}` while that fits in 80 characters', () => {
    expect(continuationName('01M95318QSAM5H6RG48YG4K6XA', 1)).toBe('01M95318QSAM5H6RG48YG4K6XA-g1');
    const token = runIdForClientToken('diamond', 'schedule/diamond/nightly/2026-12-06T03:00:00Z');
    expect(continuationName(token, 12)).toBe(`${token}-g12`);
    const fits = 'a'.repeat(77);
    expect(continuationName(fits, 1)).toBe(`${fits}-g1`);
  });

  it('is the run id cut short, a hash of the whole id and the generation when it does not', () => {
    const runId = 'r'.repeat(80);
    const name = continuationName(runId, 3);
    expect(name).toHaveLength(80);
    expect(name).toMatch(/^r{68}-[0-9a-f]{8}-g3$/);
    expect(continuationName('b'.repeat(78), 1)).toMatch(/^b{68}-[0-9a-f]{8}-g1$/);
    // Many generations: the suffix grows, the name stays within 80.
    expect(continuationName(runId, 123_456)).toMatch(/^r{63}-[0-9a-f]{8}-g123456$/);
  });

  it('is valid for every allowed run id length and generation', () => {
    for (let length = 6; length <= 80; length++) {
      const runId = `R${'x_-9'.repeat(20)}`.slice(0, length);
      expect(runId).toMatch(RUN_ID);
      for (const generation of [1, 9, 10, 999, 2_000_000]) {
        const name = continuationName(runId, generation);
        expect(name, `${runId} g${generation}`).toMatch(VALID_NAME);
        expect(name.endsWith(`-g${generation}`)).toBe(true);
      }
    }
  });

  it('is deterministic (a retried ContinueAsNew asks for the same name) and tells long ids apart', () => {
    const a = `${'p'.repeat(75)}AAAAA`;
    const b = `${'p'.repeat(75)}BBBBB`;
    expect(continuationName(a, 2)).toBe(continuationName(a, 2));
    expect(continuationName(a, 2)).not.toBe(continuationName(b, 2));
    expect(continuationName(a, 2)).not.toBe(continuationName(a, 3));
  });

  it("is carried by PollRun's hand-over answer, for the ASL's Name.$", () => {
    const state = {
      runId: 'x'.repeat(80),
      status: 'RUNNING' as const,
      waitSeconds: 4,
      progress: 1,
      idleSeconds: 0,
      ticks: 2000,
      generation: 4,
    };
    expect(handOver(state)).toMatchObject({
      handOver: true,
      generation: 5,
      nextExecutionName: continuationName(state.runId, 5),
    });
  });
});
