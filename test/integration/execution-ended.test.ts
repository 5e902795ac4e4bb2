import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { EventType } from '../../lib/eventTypes.ts';
import type { ExecutionEndResult } from '../../lib/run/executionEnded.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { RunStatus } from '../../lib/status.ts';
import type { PublishedEvent } from '../../local/eventBridge.ts';
import { eventsOf, StepStatus, stepsOf, storeOf, until, useStack } from '../support/stack.ts';

// Workers check for a cancel twice a second here (5 s by default).
const handle = useStack({
  ecsHeartbeatSeconds: 1,
  ecsStopTimeoutSeconds: 5,
  functionEnvironment: { LAMBDAG_CANCEL_CHECK_SECONDS: '0.5' },
});

/** A run that never ends on its own fails its test rather than hanging it. */
const waitForEnd = (runId: string) =>
  handle.client.waitForRun(runId, { signal: AbortSignal.timeout(45_000) });

/** The "Step Functions Execution Status Change" event the stack published for `executionArn` with `status`. */
async function statusEvent(executionArn: string, status: string): Promise<PublishedEvent> {
  return until(`the ${status} event of ${executionArn}`, async () =>
    handle.stack.events.events().find((p) => {
      const detail = p.event.detail as { executionArn?: string; status?: string };
      return detail.executionArn === executionArn && detail.status === status;
    }),
  );
}

const resultsOf = async (published: PublishedEvent) =>
  (await published.deliveries).map((d) => {
    expect(d.error, `${d.functionName} failed`).toBeUndefined();
    return d.result as ExecutionEndResult;
  });

const stopExecution = (executionArn: string) =>
  handle.deps.aws.sfn.send(
    new StopExecutionCommand({ executionArn, error: 'Operator.Stop', cause: 'stopped from the CLI' }),
  );

describe("StopExecution on a run's execution, with an ECS step in flight", () => {
  it('ends the run FAILED with EXECUTION_ABORTED, its ECS task stopped and its waiting step never started', async () => {
    const { runId, executionArn } = await handle.client.startRun({
      job: 'ecs-faults',
      input: { mode: 'wait', ms: 30_000 },
    });
    const taskArn = await until('work to run in an ECS task', async () => {
      const work = (await stepsOf(handle, runId)).get('work');
      return work?.status === StepStatus.RUNNING ? work.taskArn : undefined;
    });

    // As `aws stepfunctions stop-execution` would.
    await stopExecution(executionArn);
    const [result] = await resultsOf(await statusEvent(executionArn, 'ABORTED'));
    expect(result).toMatchObject({ action: 'ended', runId, outcome: { status: RunStatus.FAILED } });

    // Ended by the time its event was handled: no poll was needed.
    const run = await handle.client.getRun(runId);
    expect(run.status).toBe(RunStatus.FAILED);
    expect(run.error).toMatchObject({ code: 'EXECUTION_ABORTED', name: 'ExecutionAbortedError' });
    expect(run.error?.message).toBe(
      `the run's execution '${runId}' was stopped with Operator.Stop: stopped from the CLI`,
    );
    const described = await handle.deps.aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('ABORTED');

    const steps = await stepsOf(handle, runId);
    expect(steps.get('before')?.status).toBe(StepStatus.SUCCEEDED);
    expect(steps.get('work')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('after')).toMatchObject({
      status: StepStatus.CANCELED,
      canceledBecause: 'the run was canceled before the step started',
    });
    await until('the ECS task to stop', async () =>
      handle.stack.ecs.list().find((t) => t.taskArn === taskArn)?.lastStatus === 'STOPPED' ? true : undefined,
    );
    expect((await handle.deps.store.requireRun(runId)).tasks ?? []).toEqual([]);

    const manifest = (await handle.client.getResultDocument(run)) as { status: string; error: unknown };
    expect(manifest).toMatchObject({ status: RunStatus.FAILED, error: { code: 'EXECUTION_ABORTED' } });
    const types = (await eventsOf(handle, runId)).map((e) => e.type);
    expect(types).toContain(EventType.RUN_CANCEL_REQUESTED);
    expect(types.at(-1)).toBe(EventType.RUN_FAILURE);
  }, 60_000);

  it('is harmless when the same event is delivered again', async () => {
    const { runId, executionArn } = await handle.client.startRun({
      job: 'ecs-faults',
      input: { mode: 'wait', ms: 30_000 },
    });
    await until('work to run', async () =>
      (await stepsOf(handle, runId)).get('work')?.status === StepStatus.RUNNING ? true : undefined,
    );
    await stopExecution(executionArn);
    const first = await statusEvent(executionArn, 'ABORTED');
    await resultsOf(first);
    const before = await handle.client.getRun(runId);
    const eventsBefore = await eventsOf(handle, runId);

    // EventBridge delivers at least once: the same event (same id) again.
    const again = handle.stack.events.deliver(first.event);
    const [result] = await resultsOf(again);
    expect(result).toEqual({ action: 'ignored', reason: 'the run already finished FAILED', runId });
    expect(await handle.client.getRun(runId)).toEqual(before);
    expect(await eventsOf(handle, runId)).toEqual(eventsBefore);
  }, 60_000);
});

describe('StopExecution on a run whose input is in S3, with an ECS step in flight', () => {
  it('reads the input to know the plan, stops the task, and ends the run', async () => {
    const blob = 'b'.repeat(300_000);
    const { runId, executionArn } = await handle.client.startRun({
      job: 'big-input-on-ecs',
      input: { blob },
    });
    // Too large for the execution's input: the run keeps it in S3.
    await until(
      'the run with its input in S3',
      async () => (await handle.deps.store.getRun(runId))?.inputKey,
    );
    await until('crunch to run in an ECS task', async () => {
      const crunch = (await stepsOf(handle, runId)).get('crunch');
      return crunch?.status === StepStatus.RUNNING ? crunch.taskArn : undefined;
    });
    await stopExecution(executionArn);
    const [result] = await resultsOf(await statusEvent(executionArn, 'ABORTED'));
    expect(result).toMatchObject({ action: 'ended', runId, outcome: { status: RunStatus.FAILED } });
    expect((await stepsOf(handle, runId)).get('crunch')?.status).toBe(StepStatus.CANCELED);
    const read = handle.stack.iam.authority
      .usage()
      .allowed.some((u) => u.principal === 'lambdag-local-executionEnded' && u.action === 's3:GetObject');
    expect(read, 'executionEnded read the run input from S3').toBe(true);
  }, 60_000);
});

describe('StopExecution while StartRun is still writing the run', () => {
  it('waits for the run and ends it FAILED with EXECUTION_ABORTED', async () => {
    // The fault: a slow StartRun (a cold start, say), whose run item is written only after
    // executionEnded first looked for it. Each function has its own store (its clients sign as its role).
    const ended = storeOf(handle, 'executionEnded');
    const starter = storeOf(handle, 'startRun');
    const { getRun } = ended;
    const { createRun } = starter;
    let target: string | undefined;
    let looked: () => void = () => {};
    const firstLook = new Promise<void>((resolve) => {
      looked = resolve;
    });
    ended.getRun = async (id) => {
      const found = await getRun.call(ended, id);
      if (id === target && !found) looked();
      return found;
    };
    starter.createRun = async (run) => {
      if (run.job === 'diamond' && (run.input as { x?: number }).x === 4242) {
        target = run.runId;
        await firstLook;
      }
      return createRun.call(starter, run);
    };
    try {
      const { runId, executionArn } = await handle.client.startRun({ job: 'diamond', input: { x: 4242 } });
      await until('StartRun to be writing the run', async () => (target === runId ? true : undefined));
      await stopExecution(executionArn);

      const [result] = await resultsOf(await statusEvent(executionArn, 'ABORTED'));
      expect(result).toMatchObject({ action: 'ended', runId, outcome: { status: RunStatus.FAILED } });
      const run = await handle.client.getRun(runId);
      expect(run).toMatchObject({ status: RunStatus.FAILED, error: { code: 'EXECUTION_ABORTED' } });
      // Stopped before StartRun returned: the execution never recorded its result.
      const { events = [] } = await handle.deps.aws.sfn.send(
        new GetExecutionHistoryCommand({ executionArn }),
      );
      expect(events.some((e) => e.stateExitedEventDetails?.name === 'StartRun')).toBe(false);
    } finally {
      ended.getRun = getRun;
      starter.createRun = createRun;
    }
  }, 60_000);
});

describe('StopExecution of a run started from the console (no run id in the input)', () => {
  it("finds the run from the execution's history and ends it", async () => {
    const token = `console-${newRunId()}`;
    const { executionArn = '' } = await handle.deps.aws.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: handle.stack.stateMachineArn,
        name: token,
        input: JSON.stringify({ job: 'cancelable', input: { token } }),
      }),
    );
    const run = await until('the run to start', async () =>
      (await handle.deps.store.listRuns('cancelable', 50)).find((r) => r.executionArn === executionArn),
    );
    await until('hold to run', async () =>
      (await stepsOf(handle, run.runId)).get('hold')?.status === StepStatus.RUNNING ? true : undefined,
    );
    await stopExecution(executionArn);

    const [result] = await resultsOf(await statusEvent(executionArn, 'ABORTED'));
    expect(result).toMatchObject({ action: 'ended', runId: run.runId });
    expect(await handle.client.getRun(run.runId)).toMatchObject({
      status: RunStatus.FAILED,
      error: { code: 'EXECUTION_ABORTED' },
    });
  }, 60_000);
});

describe('StopExecution after `lambdag cancel`', () => {
  it('ends the run CANCELED, as the cancel asked, with its reason', async () => {
    const token = `stop-${newRunId()}`;
    const { runId, executionArn } = await handle.client.startRun({ job: 'cancelable', input: { token } });
    await until('hold to run', async () =>
      (await stepsOf(handle, runId)).get('hold')?.status === StepStatus.RUNNING ? true : undefined,
    );
    const canceled = await handle.client.cancelRun(runId, { reason: 'wrong input' });
    expect(canceled.status).toBe(RunStatus.CANCELING);
    await stopExecution(executionArn);

    // What `lambdag cancel --wait` waits for.
    const run = await waitForEnd(runId);
    expect(run).toMatchObject({ status: RunStatus.CANCELED, cancelReason: 'wrong input', canceled: 3 });
    expect(run.error).toBeUndefined();
    const described = await handle.deps.aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('ABORTED');
    expect((await eventsOf(handle, runId)).map((e) => e.type).at(-1)).toBe(EventType.RUN_CANCELED);
  }, 60_000);
});

describe('a run execution that timed out (TimeoutSeconds)', () => {
  it('ends the run FAILED with EXECUTION_TIMED_OUT, its running step aborted', async () => {
    const token = `timeout-${newRunId()}`;
    const { runId, executionArn } = await handle.client.startRun({ job: 'cancelable', input: { token } });
    await until('hold to run', async () =>
      (await stepsOf(handle, runId)).get('hold')?.status === StepStatus.RUNNING ? true : undefined,
    );
    // The run state machine sets no TimeoutSeconds; the event as EventBridge would bring it.
    const running = await statusEvent(executionArn, 'RUNNING');
    const timedOut = handle.stack.events.deliver({
      ...running.event,
      id: `timed-out-${runId}`,
      detail: { ...(running.event.detail as object), status: 'TIMED_OUT' },
    });
    const [result] = await resultsOf(timedOut);
    expect(result).toMatchObject({ action: 'ended', runId, outcome: { status: RunStatus.FAILED } });
    const run = await handle.client.getRun(runId);
    expect(run.error).toMatchObject({ code: 'EXECUTION_TIMED_OUT', name: 'ExecutionTimedOutError' });
    expect(run.error?.message).toBe(`the run's execution '${runId}' timed out`);
    const steps = await stepsOf(handle, runId);
    expect(steps.get('hold')?.status).toBe(StepStatus.CANCELED);
    expect(steps.get('last')?.status).toBe(StepStatus.CANCELED);
  }, 60_000);
});

describe('an execution that ended through FinalizeRun', () => {
  it('is left alone: a failed run stays as FinalizeRun recorded it', async () => {
    const { runId, executionArn } = await handle.client.startRun({ job: 'failing' });
    const run = await waitForEnd(runId);
    expect(run.status).toBe(RunStatus.FAILED);
    const [result] = await resultsOf(await statusEvent(executionArn, 'FAILED'));
    expect(result).toEqual({ action: 'ignored', reason: 'the run ended through FinalizeRun' });
    expect(await handle.client.getRun(runId)).toEqual(run);
  });
});

describe('a run execution that failed outside FinalizeRun (PollRun past its retries)', () => {
  it('ends the run FAILED with EXECUTION_FAILED, naming the error', async () => {
    const token = `pollfail-${newRunId()}`;
    const { runId, executionArn } = await handle.client.startRun({ job: 'cancelable', input: { token } });
    await until('hold to run and quick to succeed', async () => {
      const steps = await stepsOf(handle, runId);
      const ready =
        steps.get('hold')?.status === StepStatus.RUNNING &&
        steps.get('quick')?.status === StepStatus.SUCCEEDED;
      return ready ? true : undefined;
    });
    // The fault: a setting only PollRun reads goes bad, so every PollRun fails until its
    // Retry gives up and the execution fails (no state but ContinueAsNew has a Catch).
    handle.stack.updateFunctionEnvironment('pollRun', { LAMBDAG_MAX_POLL_TICKS: 'many' });
    try {
      const [result] = await resultsOf(await statusEvent(executionArn, 'FAILED'));
      expect(result).toMatchObject({ action: 'ended', runId, outcome: { status: RunStatus.FAILED } });
    } finally {
      handle.stack.updateFunctionEnvironment('pollRun', { LAMBDAG_MAX_POLL_TICKS: undefined });
    }
    const run = await handle.client.getRun(runId);
    expect(run.error).toMatchObject({ code: 'EXECUTION_FAILED', name: 'ExecutionFailedError' });
    expect(run.error?.message).toMatch(
      new RegExp(`^the run's execution '${runId}' failed with ConfigError: .*LAMBDAG_MAX_POLL_TICKS`),
    );
    const steps = await stepsOf(handle, runId);
    expect(['quick', 'hold', 'after', 'last'].map((key) => steps.get(key)?.status)).toEqual([
      StepStatus.SUCCEEDED,
      StepStatus.CANCELED,
      StepStatus.CANCELED,
      StepStatus.CANCELED,
    ]);
  }, 60_000);
});
