import { GetExecutionHistoryCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../lib/status.ts';
import { eventsOf, useStack } from '../support/stack.ts';

const handle = useStack();

// A tiny tick budget: the `slow` run (one 3 s step, polled every 250 ms) must hand over
// several times; PollRun does not watch it, or its first poll would see it end.
beforeAll(() => {
  process.env.LAMBDAG_MAX_POLL_TICKS = '3';
  process.env.LAMBDAG_POLL_WATCH_SECONDS = '0';
});
afterAll(() => {
  delete process.env.LAMBDAG_MAX_POLL_TICKS;
  delete process.env.LAMBDAG_POLL_WATCH_SECONDS;
});

describe('continue-as-new', () => {
  it('hands a long-polling run over to fresh executions, which finish it', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'slow' });
    const run = await handle.client.waitForRun(runId);
    expect(run).toMatchObject({ status: 'SUCCEEDED', result: 'waited' });

    const { executions = [] } = await handle.deps.aws.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: handle.stack.stateMachineArn }),
    );
    const chain = executions
      .filter((e) => e.name === runId || e.name?.startsWith(`${runId}-g`))
      .sort((a, b) => (a.startDate?.getTime() ?? 0) - (b.startDate?.getTime() ?? 0));
    expect(chain.length).toBeGreaterThanOrEqual(3);
    expect(chain.map((e) => e.name)).toEqual([runId, ...chain.slice(1).map((_, i) => `${runId}-g${i + 1}`)]);

    // Every execution but the last ends by handing over; the last finalizes the run.
    for (const execution of chain.slice(0, -1)) {
      const outcome = await handle.stack.waitForExecution(execution.executionArn ?? '');
      expect(outcome.status).toBe('SUCCEEDED');
      expect(JSON.parse(outcome.output ?? '{}')).toMatchObject({ runId, handOver: true, status: 'RUNNING' });
    }
    const last = await handle.stack.waitForExecution(chain.at(-1)?.executionArn ?? '');
    expect(JSON.parse(last.output ?? '{}')).toMatchObject({ runId, status: 'SUCCEEDED', result: 'waited' });

    // Each execution polled at most the budget before handing over.
    const { events = [] } = await handle.deps.aws.sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    const polls = events.filter(
      (e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'PollRun',
    );
    expect(polls.length).toBe(3);

    // The run records each hand-over and points at the execution that finished it.
    const continued = (await eventsOf(handle, runId)).filter((e) => e.type === EventType.RUN_CONTINUED);
    expect(continued.map((e) => (e.data as { generation: number }).generation)).toEqual(
      chain.slice(1).map((_, i) => i + 1),
    );
    expect((await handle.client.getRun(runId)).executionArn).toBe(chain.at(-1)?.executionArn);
  });
});
