import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../bench/scaleLimits.ts';
import { modelRun, ONE_KEY, rampSeconds, SPREAD } from '../../bench/scaleModel.ts';
import { scaleTables } from '../../bench/scaleTable.ts';

const workload = { steps: 100_000, concurrency: 1_000, batchSize: 10, stepSeconds: 1, overheadSeconds: 0.1 };
const byWhat = (report: ReturnType<typeof modelRun>, prefix: string) =>
  report.pressures.find((p) => p.what.startsWith(prefix));

describe('the scale model', () => {
  it("puts today's run partition key first in the way: 3.3 write units a step on one key", () => {
    const report = modelRun(workload, ONE_KEY);
    expect(report.demandStepsPerSecond).toBeCloseTo(9_090.9, 1);
    // Per step: claim, record, event (1 each); per batch of 10: counter (1) and a shard (2).
    expect(byWhat(report, 'the run partition key')?.unitsPerSecond).toBeCloseTo(9_090.9 * 3.3, 0);
    expect(report.binding).toBe('the run partition key (all its items)');
    expect(report.stepsPerSecond).toBeCloseTo(1_000 / 3.3, 1);
  });

  it("shows the run counter at 91 % of an item's limit at C = 1,000, and the events past it", () => {
    const report = modelRun(workload, ONE_KEY, { splitForHeat: true });
    expect(byWhat(report, 'the run counter')?.unitsPerSecond).toBeCloseTo(909.1, 1);
    expect(byWhat(report, 'the newest events')?.unitsPerSecond).toBeCloseTo(9_090.9, 1);
    expect(report.binding).toMatch(/newest events/);
    expect(report.stepsPerSecond).toBe(LIMITS.partitionWriteUnits.value);
  });

  it('spreads the same run over 16 keys and 16 counters', () => {
    const report = modelRun(workload, SPREAD, { splitForHeat: true });
    expect(byWhat(report, 'one of 16 counter items')?.unitsPerSecond).toBeCloseTo(909.1 / 16, 1);
    expect(report.binding).toBeUndefined();
    expect(report.stepsPerSecond).toBeCloseTo(9_090.9, 1);
  });

  it('says over how many StartRun invocations a big plan is written', () => {
    const big = modelRun({ ...workload, steps: 1_000_000 }, ONE_KEY);
    // 1,000,000 step items and 3,907 shards of 2 units, at 1,000 units a second, 55 s an invocation.
    expect(big.planWriteSeconds).toBeCloseTo(1_007.8, 1);
    expect(big.notes.join()).toMatch(/StartRun writes the plan in 19 invocations \(1,008 s\)/);
    expect(modelRun({ ...workload, steps: 10_000 }, ONE_KEY).notes.join()).not.toMatch(/StartRun/);
  });

  it('ramps the event source 300 batches a minute from 5, to at most 1,000 in standard mode', () => {
    expect(rampSeconds(5, 300)).toBe(0);
    expect(rampSeconds(305, 300)).toBe(60);
    expect(rampSeconds(1_001, 300)).toBeUndefined();
    expect(modelRun({ ...workload, concurrency: 5_000 }).notes.join()).toMatch(/provisioned mode/);
  });

  it('is what docs/scaling.md shows', () => {
    const cells = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
        .map((line) =>
          line
            .split('|')
            .slice(1, -1)
            .map((cell) => cell.trim()),
        );
    const docs = readFileSync(join(import.meta.dirname, '../../docs/scaling.md'), 'utf8');
    const start = docs.indexOf('<!-- scale-model -->');
    const end = docs.indexOf('<!-- /scale-model -->');
    expect(start).toBeGreaterThan(-1);
    expect(cells(docs.slice(start, end))).toEqual(cells(scaleTables()));
  });
});
