import { describe, expect, it } from 'vitest';
import type { StepMessage } from '../../lib/step/messages.ts';
import { audited, bodyRuns } from '../fixtures/jobs.ts';
import { runToEnd, statusCounts, stepsOf, useStack } from '../support/stack.ts';

/** Each recorded result, per run and step (the RUNNING -> SUCCEEDED write that won). */
const recorded = new Map<string, number>();
/** Steps whose first recording "crashes" the worker before it releases dependents. */
const crashed = new Set<string>();

class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

const handle = useStack({
  visibilityTimeoutSeconds: 2,
  hooks: {
    afterRecord(message: StepMessage) {
      const key = `${message.runId}/${message.step}`;
      recorded.set(key, (recorded.get(key) ?? 0) + 1);
      // Crash after recording, before releasing dependents, once for every other step.
      if (message.step.endsWith('-1') && !crashed.has(key)) {
        crashed.add(key);
        throw new SimulatedCrash(`worker died after recording ${key}`);
      }
    },
  },
  faults: {
    // Every step message is sent twice: real duplicate deliveries.
    duplicateSends: true,
    // The worker "dies" after its handler returned, before SQS deletes the message, for every first delivery.
    crashAfterHandler: (record) => record.attributes.ApproximateReceiveCount === '1',
  },
});

function expectedTotal(layers: number, width: number): number {
  let previous = [1];
  for (let layer = 1; layer <= layers; layer++) {
    const current: number[] = [];
    for (let i = 0; i < width; i++) {
      const left = i % previous.length;
      const right = (i + 1) % previous.length;
      current.push(
        left === right
          ? (previous[left] as number)
          : (previous[left] as number) + (previous[right] as number),
      );
    }
    previous = current;
  }
  return previous.reduce((a, b) => a + b, 0);
}

describe('duplicate delivery, crashes after recording, and crashes before the SQS delete', () => {
  it('runs each step body once, records each result once and dispatches each step once', async () => {
    const input = { layers: 4, width: 5 };
    const run = await runToEnd(handle, 'audited', input);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toBe(expectedTotal(input.layers, input.width));

    const plan = audited.plan(audited.parseInput(input));
    const steps = await stepsOf(handle, run.runId);
    expect(statusCounts(steps)).toEqual({ SUCCEEDED: plan.order.length });
    expect(run.succeeded).toBe(plan.order.length);

    const audit = plan.order.map((step) => ({
      step,
      bodyRuns: bodyRuns.get(`${run.runId}/${step}`) ?? 0,
      recorded: recorded.get(`${run.runId}/${step}`) ?? 0,
      sends: handle.stack.faults.sends(run.runId, step),
      attempt: steps.get(step)?.attempt,
    }));
    const excess = audit.filter(
      (a) => a.bodyRuns !== 1 || a.recorded !== 1 || a.sends !== 2 || a.attempt !== 1,
    );
    expect(excess).toEqual([]);
    // The faults really happened.
    expect([...crashed].filter((k) => k.startsWith(run.runId)).length).toBeGreaterThan(0);
    expect(handle.stack.eventSource.stats().crashedAfterHandler).toBeGreaterThan(0);
  });
});
