import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RunStatus } from '../../lib/status.ts';
import { RECURSION_LIMIT } from '../../local/lineage.ts';
import { LONG_CHAIN_LENGTH } from '../fixtures/jobs.ts';
import { runToEnd, StepStatus, stepsOf, until, useStack } from '../support/stack.ts';

/**
 * Lambda's recursive loop detection on the embedded stack. Each step of a chain is dispatched
 * by the stepWorker invocation that ran the step before it, so a chain is a Lambda -> SQS ->
 * same-Lambda loop; AWS stops such a loop after 16 invocations unless the function sets
 * RecursiveLoop: Allow, as serverless.yml does for the stepWorker.
 */

const link = (i: number) => `link-${String(i).padStart(2, '0')}`;

describe('a 40-step chain, with the stepWorker as serverless.yml deploys it (RecursiveLoop: Allow)', () => {
  const handle = useStack();

  it('runs every step: no message is stopped', async () => {
    const run = await runToEnd(handle, 'long-chain');

    expect(run.status).toBe(RunStatus.SUCCEEDED);
    const steps = await stepsOf(handle, run.runId);
    expect([...steps.values()].filter((s) => s.status === StepStatus.SUCCEEDED)).toHaveLength(
      LONG_CHAIN_LENGTH,
    );
    expect(handle.stack.eventSource.stats().recursiveInvocationsDropped).toBe(0);
  });
});

describe('a 40-step chain, where the stepWorker leaves RecursiveLoop to AWS’s default (Terminate)', () => {
  // The deployed description without the stepWorker's RecursiveLoop: Allow.
  const dir = mkdtempSync(join(tmpdir(), 'lambdag-recursion-'));
  const serverlessFile = join(dir, 'serverless.yml');
  const doc = parse(readFileSync(join(import.meta.dirname, '../../serverless.yml'), 'utf8'));
  const withExtensions = (doc.resources as { extensions?: unknown }[]).find((part) => part.extensions);
  delete withExtensions?.extensions;
  writeFileSync(serverlessFile, stringify(doc));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const handle = useStack({ serverlessFile });

  it('is stopped where AWS stops it: the 17th step is never delivered and its message is in the DLQ', async () => {
    const { runId } = await handle.client.startRun({ job: 'long-chain' });

    await until('the chain to be stopped', async () =>
      handle.stack.eventSource.stats().recursiveInvocationsDropped > 0 ? true : undefined,
    );

    // The stepWorker ran the first 16 steps, each in the invocation after the one before.
    const steps = await stepsOf(handle, runId);
    for (let i = 1; i <= RECURSION_LIMIT; i++)
      expect(steps.get(link(i))?.status, link(i)).toBe(StepStatus.SUCCEEDED);
    // The 17th was dispatched (its message is below), but that message would have been the
    // chain's 17th invocation: the step never started.
    const stopped = link(RECURSION_LIMIT + 1);
    expect([StepStatus.WAITING, StepStatus.QUEUED]).toContain(steps.get(stopped)?.status);
    for (let i = RECURSION_LIMIT + 2; i <= LONG_CHAIN_LENGTH; i++) {
      expect(steps.get(link(i))?.status, link(i)).not.toBe(StepStatus.SUCCEEDED);
    }
    expect((await handle.client.getRun(runId))?.status).toBe(RunStatus.RUNNING);
    expect(handle.stack.eventSource.stats().recursiveInvocationsDropped).toBe(1);

    // Set aside where a failed message goes: the queue's dead-letter queue, with its trace header.
    const sqs = handle.deps.aws.sqs;
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'lambdag-local-steps-dlq' }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['AWSTraceHeader'],
      }),
    );
    expect(Messages).toHaveLength(1);
    expect(JSON.parse(Messages[0]?.Body ?? '{}')).toMatchObject({ runId, step: stopped });
    expect(Messages[0]?.Attributes?.AWSTraceHeader).toMatch(
      new RegExp(`Lineage=[0-9a-f]{8}:${RECURSION_LIMIT}$`),
    );
  });
});
