import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  JobNotFoundError,
  PayloadTooLargeError,
  RunNotFoundError,
} from '../../lib/errors.ts';
import { useStack } from '../support/stack.ts';

const handle = useStack();

describe('bad input', () => {
  it('rejects an unknown job before starting anything, naming the known jobs', async () => {
    const error = await handle.client.startRun({ job: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobNotFoundError);
    expect((error as Error).message).toContain("unknown job 'nope'; known jobs: ");
    expect((error as Error).message).toContain('diamond');
  });

  it('rejects input that fails the job schema, saying where', async () => {
    const error = await handle.client
      .startRun({ job: 'diamond', input: { x: 'one' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(/input of job 'diamond' is invalid: input\.x: /);
  });

  it('fails an execution started directly with an unknown job, with the error name and message', async () => {
    const { executionArn } = await handle.deps.aws.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: handle.stack.stateMachineArn,
        input: JSON.stringify({ job: 'nope' }),
      }),
    );
    const execution = await handle.stack.waitForExecution(executionArn ?? '');
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('JobNotFoundError');
    const described = await handle.deps.aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('FAILED');
    expect(described.cause).toContain("unknown job 'nope'");
  });

  it('fails an execution whose request is malformed, naming the field', async () => {
    const { executionArn } = await handle.deps.aws.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: handle.stack.stateMachineArn,
        input: JSON.stringify({ jobb: 'diamond' }),
      }),
    );
    const execution = await handle.stack.waitForExecution(executionArn ?? '');
    expect(execution.error).toBe('InvalidInputError');
    expect(execution.cause).toContain('job');
  });

  it('refuses an input over 10 MiB before uploading or starting anything', async () => {
    const before = await handle.client.listRuns('big-input', 100);
    const blob = 'x'.repeat(10 * 1024 * 1024 + 1);
    const error = await handle.client
      .startRun({ job: 'big-input', input: { blob } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as Error).message).toMatch(/run input is \d+ bytes; the limit is 10485760/);
    expect(await handle.client.listRuns('big-input', 100)).toHaveLength(before.length);
  });

  it('says a run is not found', async () => {
    await expect(handle.client.getRun('01NOPE0000000000000000000')).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it('starts one run for two starts with one client token', async () => {
    const first = await handle.client.startRun({
      job: 'diamond',
      input: { x: 1 },
      clientToken: 'nightly-2026-11-24',
    });
    const second = await handle.client.startRun({
      job: 'diamond',
      input: { x: 1 },
      clientToken: 'nightly-2026-11-24',
    });
    expect(second.runId).toBe(first.runId);
    const run = await handle.client.waitForRun(first.runId);
    expect(run.status).toBe('SUCCEEDED');
    const runs = (await handle.client.listRuns('diamond', 100)).filter(
      (r) => r.clientToken === 'nightly-2026-11-24',
    );
    expect(runs).toHaveLength(1);
  });
});
