import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import { eventsOf, runToEnd, StepStatus, stepsOf, useStack } from '../support/stack.ts';

class WorkerKilled extends Error {
  override readonly name = 'WorkerKilled';
}

// The step worker's invocations last 7 s: with its 5 s margin, a step gets 2 s on Lambda.
// In `dies` mode every Lambda delivery of `grow` "dies" after its body, before recording:
// what a Lambda killed by its timeout (body blocking the event loop) or by OOM looks like.
const handle = useStack({
  stepWorkerTimeoutSeconds: 7,
  visibilityTimeoutSeconds: 1,
  hooks: {
    beforeRecord(message) {
      const mode = (message.input as { mode?: string } | undefined)?.mode;
      if (message.job === 'outgrows-lambda' && message.step === 'grow' && mode === 'dies') {
        throw new WorkerKilled(`worker running ${message.step} attempt ${message.attempt} was killed`);
      }
    },
  },
});

describe("a Lambda step with onLambdaTimeout: 'ecs'", () => {
  it('runs its next attempt on ECS when it runs out of the invocation, without spending a retry', async () => {
    const run = await runToEnd(handle, 'outgrows-lambda', { ms: 4_000, mode: 'slow' });
    expect(run.status).toBe('SUCCEEDED');
    const result = run.result as { attempt: number; pid: number };
    // Attempt 2 ran in a local ECS task, not in this process (where the Lambda handlers run).
    expect(result.attempt).toBe(2);
    expect(result.pid).not.toBe(process.pid);

    const grow = (await stepsOf(handle, run.runId)).get('grow');
    expect(grow).toMatchObject({ status: StepStatus.SUCCEEDED, attempt: 2, promotedAt: 2 });
    expect(grow?.taskArn).toMatch(/:task\//);
    const events = await eventsOf(handle, run.runId);
    const promoted = events.filter((e) => e.type === EventType.STEP_PROMOTED);
    expect(promoted).toHaveLength(1);
    expect(promoted[0]).toMatchObject({ step: 'grow', attempt: 1 });
    expect(promoted[0]?.message).toBe(
      "step 'grow' ran out of the Lambda invocation's time after 2s; attempt 2 runs on ECS",
    );
    // The step has no retries: the promotion is not one.
    expect(events.some((e) => e.type === EventType.STEP_RETRY || e.type === EventType.STEP_FAILURE)).toBe(
      false,
    );
  }, 60_000);

  it('runs its next attempt on ECS when its Lambda worker dies holding it', async () => {
    const run = await runToEnd(handle, 'outgrows-lambda', { mode: 'dies' });
    expect(run.status).toBe('SUCCEEDED');
    expect(run.result).toMatchObject({ attempt: 2 });
    expect((run.result as { pid: number }).pid).not.toBe(process.pid);

    const events = await eventsOf(handle, run.runId);
    const types = events.filter((e) => e.step === 'grow').map((e) => e.type);
    // Lost once on Lambda, then promoted: not killed again and again until WorkerLostError.
    expect(types.filter((t) => t === EventType.STEP_WORKER_LOST)).toHaveLength(1);
    expect(types.indexOf(EventType.STEP_PROMOTED)).toBeGreaterThan(types.indexOf(EventType.STEP_WORKER_LOST));
    expect(events.find((e) => e.type === EventType.STEP_PROMOTED)?.message).toMatch(
      /the worker died 1 times while running it .*; attempt 2 runs on ECS$/,
    );
  }, 60_000);
});
