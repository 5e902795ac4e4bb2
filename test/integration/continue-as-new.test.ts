import { GetExecutionHistoryCommand, ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import { continuationName } from '../../lib/run/continueAsNew.ts';
import type { BusEvent } from '../../local/eventBridge.ts';
import { eventsOf, storeOf, until, useStack } from '../support/stack.ts';

const handle = useStack();

// A tiny tick budget: the `slow` run (one 3 s step, polled every 250 ms) must hand over
// several times; PollRun does not watch it, or its first poll would see it end.
beforeAll(() => {
  handle.stack.updateFunctionEnvironment('pollRun', {
    LAMBDAG_MAX_POLL_TICKS: '3',
    LAMBDAG_POLL_WATCH_SECONDS: '0',
  });
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

describe('continue-as-new of a run with an 80-character run id', () => {
  it('names each next execution within 80 characters, and the run hands over and finishes', async () => {
    const runId = `L${'0123456789'.repeat(8).slice(1)}`;
    expect(runId).toHaveLength(80);
    // A run id given in the input, as anyone may (StartRun accepts 6-80 characters).
    const { executionArn } = await handle.stack.startExecution({ job: 'slow', runId }, runId);
    const run = await handle.client.waitForRun(runId, { signal: AbortSignal.timeout(45_000) });
    expect(run).toMatchObject({ status: 'SUCCEEDED', result: 'waited' });

    const continued = (await eventsOf(handle, runId)).filter((e) => e.type === EventType.RUN_CONTINUED);
    expect(continued.length).toBeGreaterThanOrEqual(2);
    const names = continued.map((e) =>
      String((e.data as { executionArn: string }).executionArn)
        .split(':')
        .at(-1),
    );
    for (const [i, name] of names.entries()) {
      expect(name).toBe(continuationName(runId, i + 1));
      expect(name?.length).toBeLessThanOrEqual(80);
      expect(name).toMatch(new RegExp(`^${runId.slice(0, 60)}[0-9A-Za-z]*-[0-9a-f]{8}-g${i + 1}$`));
    }
    const first = await handle.stack.waitForExecution(executionArn);
    expect(first.status).toBe('SUCCEEDED');
    expect(JSON.parse(first.output ?? '{}')).toMatchObject({ handOver: true, nextExecutionName: names[0] });
  }, 60_000);
});

describe('an execution status change for an older generation of a run', () => {
  it('does nothing: the run goes on in its current execution', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'slow' });
    await until('the run to be handed over', async () =>
      (await eventsOf(handle, runId)).some((e) => e.type === EventType.RUN_CONTINUED) ? true : undefined,
    );
    // The first execution handed over (it SUCCEEDED); an ABORTED event for it, as a late or
    // mistaken delivery would bring, must not end the run its successor now drives.
    const started = handle.stack.events
      .events()
      .find((p) => (p.event.detail as { executionArn: string }).executionArn === executionArn);
    if (!started) throw new Error(`no event of ${executionArn} on the bus`);
    const stale: BusEvent = {
      ...started.event,
      id: `stale-${runId}`,
      detail: { ...(started.event.detail as object), status: 'ABORTED' },
    };
    const deliveries = await handle.stack.events.deliver(stale).deliveries;
    expect(deliveries.map((d) => d.error)).toEqual([undefined]);
    const result = deliveries[0]?.result as { action: string; runId: string; reason: string };
    expect(result).toMatchObject({ action: 'ignored', runId });
    expect(result.reason).toMatch(/^not the run's current execution/);

    const run = await handle.client.waitForRun(runId, { signal: AbortSignal.timeout(45_000) });
    expect(run).toMatchObject({ status: 'SUCCEEDED', result: 'waited' });
    expect(run.error).toBeUndefined();
  }, 60_000);
});

describe('StopExecution of the execution a run was just handed to', () => {
  it('waits for its StartRun to take the run over, then ends the run', async () => {
    // The fault: a slow StartRun in the new execution (a cold start, say), which links the
    // run to it only after executionEnded first looked. Each function has its own store (its clients sign as its role).
    const { runId } = await handle.client.startRun({ job: 'slow' });
    const ended = storeOf(handle, 'executionEnded');
    const starter = storeOf(handle, 'startRun');
    const { getRun } = ended;
    const { linkExecution } = starter;
    let linking: string | undefined;
    let looked: () => void = () => {};
    const firstLook = new Promise<void>((resolve) => {
      looked = resolve;
    });
    ended.getRun = async (id) => {
      const found = await getRun.call(ended, id);
      if (id === runId && linking && found?.executionArn !== linking) looked();
      return found;
    };
    starter.linkExecution = async (id, arn) => {
      if (id === runId && !linking) {
        linking = arn;
        await firstLook;
      }
      return linkExecution.call(starter, id, arn);
    };
    try {
      const next = await until('the run to be handed over', async () => linking);
      await handle.deps.aws.sfn.send(new StopExecutionCommand({ executionArn: next }));
      const published = await until('the ABORTED event', async () =>
        handle.stack.events.events().find((p) => {
          const detail = p.event.detail as { executionArn: string; status: string };
          return detail.executionArn === next && detail.status === 'ABORTED';
        }),
      );
      const [delivery] = await published.deliveries;
      expect(delivery?.result).toMatchObject({ action: 'ended', runId });
      const run = await handle.client.getRun(runId);
      expect(run).toMatchObject({
        status: 'FAILED',
        executionArn: next,
        error: { code: 'EXECUTION_ABORTED' },
      });
    } finally {
      ended.getRun = getRun;
      starter.linkExecution = linkExecution;
    }
  }, 60_000);
});

describe('StopExecution of the execution a run was handed to, whose StartRun never takes it over', () => {
  it("ends the run once StartRun's time is up: the execution before has handed it over", async () => {
    const { runId } = await handle.client.startRun({ job: 'slow' });
    const starter = storeOf(handle, 'startRun');
    const { linkExecution } = starter;
    let linking: string | undefined;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The fault: the new execution's StartRun dies before it links the run.
    starter.linkExecution = async (id, arn) => {
      if (id === runId && !linking) {
        linking = arn;
        await released;
        throw new Error('StartRun died');
      }
      return linkExecution.call(starter, id, arn);
    };
    handle.stack.updateFunctionEnvironment('executionEnded', {
      LAMBDAG_EXECUTION_END_START_WAIT_SECONDS: '1',
    });
    try {
      const next = await until('the run to be handed over', async () => linking);
      await handle.deps.aws.sfn.send(new StopExecutionCommand({ executionArn: next }));
      const published = await until('the ABORTED event', async () =>
        handle.stack.events.events().find((p) => {
          const detail = p.event.detail as { executionArn: string; status: string };
          return detail.executionArn === next && detail.status === 'ABORTED';
        }),
      );
      const [delivery] = await published.deliveries;
      expect(delivery?.result).toMatchObject({ action: 'ended', runId });
      const run = await handle.client.getRun(runId);
      expect(run.executionArn).not.toBe(next);
      expect(run).toMatchObject({ status: 'FAILED', error: { code: 'EXECUTION_ABORTED' } });
    } finally {
      release();
      starter.linkExecution = linkExecution;
      handle.stack.updateFunctionEnvironment('executionEnded', {
        LAMBDAG_EXECUTION_END_START_WAIT_SECONDS: undefined,
      });
    }
  }, 60_000);
});
