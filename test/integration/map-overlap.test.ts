import { describe, expect, it } from 'vitest';
import { RunStatus } from '../../lib/status.ts';
import { runRefOf } from '../../lib/step/dispatch.ts';
import type { StepRecord } from '../../lib/store/types.ts';
import { itemRuns } from '../fixtures/mapJobs.ts';
import { StepStatus, stepsOf, storeOf, until, useStack } from '../support/stack.ts';

const handle = useStack();

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('two expansions of one map at once (the first only slow, not dead)', () => {
  it('a slow expander’s late item writes neither reset an item nor make one run twice', async () => {
    // The first expander's first write of items hangs (a call no emulator can hold) until
    // the run has ended on a second expansion: reconciliation's re-send of the map step.
    const store = storeOf(handle, 'stepWorker');
    const write = { putSteps: store.putSteps.bind(store), createSteps: store.createSteps.bind(store) };
    const hung = gate();
    const late = gate();
    let held = 0;
    const hold =
      <A extends [readonly StepRecord[], ...unknown[]]>(real: (...args: A) => Promise<unknown>) =>
      async (...args: A) => {
        if (args[0][0]?.key !== 'double[0]' || held++ > 0) return real(...args);
        await hung.opened;
        try {
          return await real(...args);
        } finally {
          late.open();
        }
      };
    store.putSteps = hold(write.putSteps) as typeof store.putSteps;
    store.createSteps = hold(write.createSteps) as typeof store.createSteps;
    try {
      const { runId } = await handle.client.startRun({ job: 'mapped', input: { n: 30, maxConcurrency: 5 } });
      await until('the map to begin expanding', async () =>
        (await handle.deps.store.getStep(runId, 'double'))?.status === StepStatus.RUNNING ? true : undefined,
      );
      const input = { n: 30, maxConcurrency: 5 };
      const run = await handle.deps.store.requireRun(runId);
      const plan = handle.deps.registry.get('mapped').plan(input);
      await handle.deps.dispatcher.dispatch(runRefOf(run, input), plan, [{ step: 'double', attempt: 1 }]);
      const ended = await handle.client.waitForRun(runId);
      expect(ended.status).toBe(RunStatus.SUCCEEDED);

      hung.open();
      await late.opened;
      const steps = await stepsOf(handle, runId);
      const items = [...steps.values()].filter((step) => step.item);
      expect(items).toHaveLength(30);
      const audit = items.filter(
        (item) => itemRuns.get(`${runId}/${item.key}`) !== 1 || item.status !== StepStatus.SUCCEEDED,
      );
      expect(audit.map((item) => `${item.key}:${item.status}`)).toEqual([]);
      expect(steps.get('double')).toMatchObject({
        status: StepStatus.SUCCEEDED,
        output: { items: 30, failed: 0 },
      });
      expect(held).toBeGreaterThan(1);
    } finally {
      hung.open();
      Object.assign(store, write);
    }
  });
});
