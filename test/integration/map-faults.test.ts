import { describe, expect, it } from 'vitest';
import { EXPANSION_BATCH } from '../../lib/step/mapExpansion.ts';
import type { StepRecord } from '../../lib/store/types.ts';
import { itemRuns } from '../fixtures/mapJobs.ts';
import { runToEnd, StepStatus, statusCounts, stepsOf, storeOf, useStack } from '../support/stack.ts';

class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

const handle = useStack({
  visibilityTimeoutSeconds: 2,
  faults: {
    // Every step message is sent twice: real duplicate deliveries, the expanding one's too.
    duplicateSends: true,
    // The worker "dies" after its handler returned, before SQS deletes the message, for every first delivery.
    crashAfterHandler: (record) => record.attributes.ApproximateReceiveCount === '1',
  },
});

describe('a map step under crashes and duplicate deliveries', () => {
  it('a crash mid-expansion and duplicate deliveries still run each item once, in order', async () => {
    // The worker expanding the map dies writing its second batch of items, once.
    const store = storeOf(handle, 'stepWorker');
    const createSteps = store.createSteps.bind(store);
    let crashed = 0;
    store.createSteps = async (steps: readonly StepRecord[], ...rest) => {
      if (steps[0]?.key === `double[${EXPANSION_BATCH}]` && crashed++ === 0) {
        throw new SimulatedCrash('worker died mid-expansion');
      }
      return createSteps(steps, ...rest);
    };
    const n = EXPANSION_BATCH + 20;
    try {
      const run = await runToEnd(handle, 'mapped', { n, maxConcurrency: 50 });

      expect(crashed).toBeGreaterThan(0);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.result).toMatchObject({ count: n, values: Array.from({ length: n }, (_, i) => 2 * i) });
      const steps = await stepsOf(handle, run.runId);
      expect(statusCounts(steps)).toEqual({ SUCCEEDED: 3 + n });
      const items = [...steps.values()].filter((step) => step.item);
      const audit = items.filter(
        (item) =>
          itemRuns.get(`${run.runId}/${item.key}`) !== 1 ||
          item.attempt !== 1 ||
          item.status !== StepStatus.SUCCEEDED,
      );
      expect(items).toHaveLength(n);
      expect(audit.map((item) => item.key)).toEqual([]);
      expect(handle.stack.faults.duplicated).toBeGreaterThan(0);
    } finally {
      store.createSteps = createSteps;
    }
  });
});
