import { describe, expect, it } from 'vitest';
import { ALL_FAULTS, runSimulation } from '../../local/simulation/harness.ts';

// The fault-injection audit at a size for the suite; `lambdag simulate` runs it larger
// (docs/reliability.md has the command and the figures of a large run).
describe('random DAGs under every fault at once', () => {
  it(
    'lose nothing, run nothing after success, record each result once, and compute right',
    async () => {
      const report = await runSimulation({
        runs: 24,
        minSteps: 20,
        maxSteps: 100,
        seed: 20261124,
        faults: ALL_FAULTS,
        timeoutMs: 6 * 60_000,
        // Map stages at the suite's size: a few small maps among the DAGs.
        maxItems: 8,
        // Keyed limits tight enough that attempts wait for slots at this size (4 slots
        // were seen never to fill in a run of 24 DAGs).
        keyedLimits: { rate: 0.1, keys: 2, limit: 2 },
      });
      const { faultsInjected: f } = report;
      // The faults really happened, every kind of them.
      expect(f.duplicateSends).toBeGreaterThan(0);
      expect(f.crashBeforeRecord).toBeGreaterThan(0);
      expect(f.crashAfterRecord).toBeGreaterThan(0);
      expect(f.crashBeforeDelete).toBeGreaterThan(0);
      expect(Object.values(f.throttling).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(f.stepErrors).toBeGreaterThan(0);
      expect(f.slowSteps).toBeGreaterThan(0);
      expect(report.executions.retries).toBeGreaterThan(0);
      // Maps were among the DAGs (their items count as steps, audited as any).
      expect(report.maps.stages).toBeGreaterThan(0);
      expect(report.maps.items).toBeGreaterThan(0);
      // Keyed concurrency limits were among them, and attempts waited for slots.
      expect(report.keyedLimits.keys.every((k) => k.attempts > 0)).toBe(true);
      expect(report.keyedLimits.waits).toBeGreaterThan(0);

      // And the audit is clean.
      expect(report.stuckRuns).toEqual([]);
      expect(report.lostSteps).toEqual([]);
      expect(report.executionsAfterSuccess).toEqual([]);
      expect(report.doubleRecords).toEqual([]);
      expect(report.wrongResults).toEqual([]);
      // No key ran more at once than its limit (from the events), no lease was left held.
      expect(report.keyedLimits.overLimit).toEqual([]);
      expect(report.keyedLimits.leasesLeft).toEqual([]);
      expect(report.deadLetters.flatMap((q) => q.live)).toEqual([]);
      expect(report.runStatuses).toEqual({ SUCCEEDED: 24 });
      expect(report.ok).toBe(true);
    },
    7 * 60_000,
  );
});
