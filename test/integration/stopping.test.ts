import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { bodyRuns } from '../fixtures/jobs.ts';
import { eventsOf, runToEnd, StepStatus, stepsOf, useStack } from '../support/stack.ts';

// Workers check for a stop twice a second here (5 s by default), so the tests stay short.
const handle = useStack({ functionEnvironment: { LAMBDAG_CANCEL_CHECK_SECONDS: '0.5' } });
const runs = (runId: string, step: string) => bodyRuns.get(`${runId}/${step}`) ?? 0;

describe('a step past its timeoutSeconds', () => {
  it('is aborted, retried as a new attempt, and fails with STEP_TIMEOUT when retries run out', async () => {
    const run = await runToEnd(handle, 'stuck-step');
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'hold', name: 'StepTimeoutError', code: 'STEP_TIMEOUT' });
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('hold')).toMatchObject({ status: StepStatus.FAILED, attempt: 2 });
    expect(runs(run.runId, 'hold')).toBe(2);
    const events = await eventsOf(handle, run.runId);
    expect(events.filter((e) => e.type === 'STEP_RETRY').map((e) => e.attempt)).toEqual([1]);
    expect(events.find((e) => e.type === 'STEP_FAILURE')?.message).toMatch(/StepTimeoutError: .*1 ?s/);
  });
});

describe('a run past its timeoutSeconds', () => {
  it('is stopped by the poll, its running step aborted, and ends FAILED with RUN_TIMEOUT', async () => {
    const run = await runToEnd(handle, 'overdue');
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ code: 'RUN_TIMEOUT', name: 'RunTimeoutError' });
    expect(run.error?.message).toContain('timeoutSeconds (1s)');
    const steps = await stepsOf(handle, run.runId);
    expect(steps.get('hold')?.status).toBe(StepStatus.CANCELED);
    const events = (await eventsOf(handle, run.runId)).map((e) => e.type);
    expect(events).toContain('RUN_CANCEL_REQUESTED');
    expect(events.at(-1)).toBe('RUN_FAILURE');
  });
});

describe('a fail-fast job', () => {
  it('stops the other branches when a step fails for good, and its retryable() is honoured', async () => {
    const run = await runToEnd(handle, 'fail-fast');
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatchObject({ step: 'bad', code: 'FAIL_FAST', name: 'BadDataError' });
    const steps = await stepsOf(handle, run.runId);
    // retries: 3, but retryable() refused BadDataError: one attempt.
    expect(steps.get('bad')).toMatchObject({ status: StepStatus.FAILED, attempt: 1 });
    expect(runs(run.runId, 'bad')).toBe(1);
    expect(steps.get('hold')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('after')?.status).toBe(StepStatus.CANCELED);
    expect(runs(run.runId, 'after')).toBe(0);
  });
});

describe('a retry delayed past the 15-minute SQS cap', () => {
  it('goes back to its queue, delayed, without running, until its notBefore', async () => {
    const queue = handle.deps.config.queues.default as string;
    const { runId } = await handle.client.startRun({ job: 'diamond', input: { x: 1 } });
    await handle.client.waitForRun(runId);
    const attributes = async () =>
      (
        await handle.deps.aws.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue,
            AttributeNames: ['ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessages'],
          }),
        )
      ).Attributes ?? {};
    const delayedBefore = Number((await attributes()).ApproximateNumberOfMessagesDelayed ?? 0);
    const body = JSON.stringify({
      v: 1,
      runId,
      job: 'diamond',
      step: 'd',
      attempt: 2,
      input: { x: 1 },
      notBefore: Date.now() + 3_600_000,
    });
    await handle.deps.aws.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: body }));
    // The worker receives it, sends a copy back delayed (up to 900 s), and deletes the original.
    const deadline = Date.now() + 20_000;
    let delayed = delayedBefore;
    while (Date.now() < deadline && delayed <= delayedBefore) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      delayed = Number((await attributes()).ApproximateNumberOfMessagesDelayed ?? 0);
    }
    expect(delayed).toBe(delayedBefore + 1);
    expect(Number((await attributes()).ApproximateNumberOfMessages ?? 0)).toBe(0);
    // Nothing ran: d is still the succeeded attempt 1.
    expect((await stepsOf(handle, runId)).get('d')).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
  });
});
