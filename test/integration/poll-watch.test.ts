import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { RunStatus } from '../../lib/status.ts';
import { useStack } from '../support/stack.ts';

const handle = useStack();

/** The states the run's execution entered, in order. */
async function statesOf(executionArn: string): Promise<string[]> {
  const { events = [] } = await handle.deps.aws.sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  return events
    .filter((e) => e.type?.endsWith('StateEntered'))
    .map((e) => e.stateEnteredEventDetails?.name ?? '');
}

afterEach(() => {
  handle.stack.updateFunctionEnvironment('pollRun', { LAMBDAG_POLL_WATCH_SECONDS: undefined });
});

describe('PollRun watching a short run itself', () => {
  it('sees a 3 s run end in its first invocation: 8 transitions, not 3 more per wait', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'slow' });
    const run = await handle.client.waitForRun(runId);
    expect(run).toMatchObject({ status: RunStatus.SUCCEEDED, result: 'waited' });
    await handle.stack.waitForExecution(executionArn ?? '');
    // StartRun's state asks for 1 s; PollRun then watches 2 s and 4 s, and the step's 3 s end within them.
    expect(await statesOf(executionArn ?? '')).toEqual([
      'StartRun',
      'IsRunDone',
      'WaitForProgress',
      'PollRun',
      'IsRunDone',
      'FinalizeRun',
      'RunOutcome',
      'RunSucceeded',
    ]);
  });

  it('polls through the state machine when told not to watch (LAMBDAG_POLL_WATCH_SECONDS=0)', async () => {
    handle.stack.updateFunctionEnvironment('pollRun', { LAMBDAG_POLL_WATCH_SECONDS: '0' });
    const { runId, executionArn } = await handle.client.startRun({ job: 'slow' });
    expect(await handle.client.waitForRun(runId)).toMatchObject({ status: RunStatus.SUCCEEDED });
    // The local Wait is 250 ms: a 3 s run takes many polls.
    const polls = (await statesOf(executionArn ?? '')).filter((s) => s === 'PollRun');
    expect(polls.length).toBeGreaterThan(3);
  });

  it('hands a run canceled while it is watched to the cancel sweep', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'slow' });
    // Canceled while PollRun watches it (its step takes 3 s; the watch would last until it ends).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await handle.client.cancelRun(runId, { reason: 'test' });
    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe(RunStatus.CANCELED);
    // The run item says CANCELED as FinalizeRun writes it, a moment before its execution
    // reaches its last state: the history is read once the execution has ended.
    await handle.stack.waitForExecution(executionArn ?? '');
    // The watching PollRun returned the run CANCELING, and later polls swept it: more than the one poll
    // a run that is not canceled takes.
    expect((await statesOf(executionArn ?? '')).filter((s) => s === 'PollRun').length).toBeGreaterThanOrEqual(
      2,
    );
    expect(await statesOf(executionArn ?? '')).toContain('RunCanceled');
  });
});
