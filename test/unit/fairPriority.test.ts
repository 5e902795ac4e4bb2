import type { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidJobError } from '../../lib/errors.ts';
import { defineJob } from '../../lib/job/defineJob.ts';
import { bandOf, effectivePriority, HIGH_BAND_FROM, priorityProblem } from '../../lib/job/priority.ts';
import { Dispatcher } from '../../lib/step/dispatch.ts';
import { messageGroupOfMessage, type StepMessage } from '../../lib/step/messages.ts';
import { MemoryPayloadStore, TEST_CONFIG } from '../support/engine.ts';

/** An SQS client that keeps every entry it is asked to send, with its queue. */
function recordingSqs() {
  const sent: { queue: string; groupId: string | undefined; message: StepMessage }[] = [];
  const sqs = {
    async send(command: SendMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      for (const e of entries) {
        sent.push({
          queue: command.input.QueueUrl ?? '',
          groupId: e.MessageGroupId,
          message: JSON.parse(e.MessageBody ?? '{}'),
        });
      }
      return { Successful: entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] };
    },
  };
  return { sqs: sqs as unknown as SQSClient, sent };
}

const QUEUES = { default: 'https://sqs.invalid/default', high: 'https://sqs.invalid/high' };

function dispatcherWith(queues: Record<string, string> = QUEUES) {
  const { sqs, sent } = recordingSqs();
  return { dispatcher: new Dispatcher(sqs, { ...TEST_CONFIG, queues }, new MemoryPayloadStore()), sent };
}

const mixed = defineJob('mixed', (job) => {
  job.step('plain', () => 1);
  job.step('urgent', { priority: 7 }, () => 2);
  job.step('routine', { priority: 0 }, () => 3);
  job.step('named', { priority: 'high' }, () => 4);
  job.step('routed', { priority: 9, queue: 'default' }, () => 5);
});

describe('priority bands', () => {
  it('maps 0-4 to the normal band (the default queue) and 5-9 to the high band', () => {
    expect([0, 1, 2, 3, 4].map(bandOf)).toEqual(Array(5).fill('default'));
    expect([5, 6, 7, 8, 9].map(bandOf)).toEqual(Array(5).fill('high'));
    expect(HIGH_BAND_FROM).toBe(5);
  });

  it("takes the step's priority over the run's, the run's over the default 0; 'high' is 5, 'normal' 0", () => {
    expect(effectivePriority(undefined, undefined)).toBe(0);
    expect(effectivePriority(undefined, 8)).toBe(8);
    expect(effectivePriority(2, 8)).toBe(2);
    expect(effectivePriority('high', undefined)).toBe(5);
    expect(effectivePriority('normal', 9)).toBe(0);
  });

  it('accepts whole numbers 0-9 and the two names, and says what is wrong with anything else', () => {
    for (const ok of [undefined, 0, 9, 'normal', 'high']) expect(priorityProblem(ok)).toBeUndefined();
    for (const bad of [-1, 10, 2.5, '5', 'urgent', null, Number.NaN]) {
      expect(priorityProblem(bad)).toMatch(/^priority must be a whole number from 0 to 9/);
    }
  });

  it('refuses a step with a bad priority when the job is defined, naming the step', () => {
    const define = () =>
      defineJob('bad-priority', (job) => {
        job.step('a', { priority: 12 }, () => 1);
      });
    expect(define).toThrow(InvalidJobError);
    expect(define).toThrow("job 'bad-priority': step 'a': priority must be a whole number from 0 to 9");
  });
});

describe('routing a step by its priority', () => {
  it("sends each step to its band's queue: its own priority, else the run's; `queue` wins", async () => {
    const { dispatcher, sent } = dispatcherWith();
    const plan = mixed.plan({});
    const items = plan.order.map((step) => ({ step, attempt: 1 }));
    await dispatcher.dispatch({ runId: 'run-normal', job: 'mixed', input: {} }, plan, items);
    await dispatcher.dispatch({ runId: 'run-urgent', job: 'mixed', input: {}, priority: 6 }, plan, items);
    const where = (runId: string) =>
      Object.fromEntries(
        sent.filter((s) => s.message.runId === runId).map((s) => [s.message.step, s.queue.split('/').at(-1)]),
      );
    expect(where('run-normal')).toEqual({
      plain: 'default',
      urgent: 'high',
      routine: 'default',
      named: 'high',
      routed: 'default',
    });
    expect(where('run-urgent')).toEqual({
      plain: 'high',
      urgent: 'high',
      routine: 'default',
      named: 'high',
      routed: 'default',
    });
    // The run's priority travels with its messages, for the steps they release.
    expect(sent.filter((s) => s.message.runId === 'run-urgent').map((s) => s.message.priority)).toEqual(
      Array(5).fill(6),
    );
    expect(sent.filter((s) => s.message.runId === 'run-normal').map((s) => s.message.priority)).toEqual(
      Array(5).fill(undefined),
    );
  });

  it('sends the high band to the default queue on a deployment without a high queue', async () => {
    const { dispatcher, sent } = dispatcherWith({ default: QUEUES.default });
    const plan = mixed.plan({});
    await dispatcher.dispatch({ runId: 'r', job: 'mixed', input: {}, priority: 9 }, plan, [
      { step: 'urgent', attempt: 1 },
    ]);
    expect(sent.map((s) => s.queue)).toEqual([QUEUES.default]);
  });
});

describe('fairness keys', () => {
  const perTenant = defineJob(
    'per-tenant',
    { input: z.object({ tenant: z.string() }), fairnessKey: (input) => `tenant-${input.tenant}` },
    (job) => {
      job.step('a', () => 1);
    },
  );

  it("groups a run's step messages by the run id when the job sets no key", async () => {
    const { dispatcher, sent } = dispatcherWith();
    const plan = mixed.plan({});
    await dispatcher.dispatch({ runId: 'run-1', job: 'mixed', input: {} }, plan, [
      { step: 'plain', attempt: 1 },
    ]);
    expect(sent[0]?.groupId).toBe('run-1');
    expect(sent[0]?.message.fairnessKey).toBeUndefined();
    expect(messageGroupOfMessage(sent[0]?.message as StepMessage)).toBe('run-1');
  });

  it("groups them by the job's key for the run's input, which the message carries for its copies", async () => {
    const { dispatcher, sent } = dispatcherWith();
    const plan = perTenant.plan({ tenant: 'acme' });
    expect(plan.fairnessKey).toBe('tenant-acme');
    await dispatcher.dispatch({ runId: 'run-2', job: 'per-tenant', input: { tenant: 'acme' } }, plan, [
      { step: 'a', attempt: 1 },
      { step: 'a', attempt: 2, delaySeconds: 5 },
    ]);
    expect(sent.map((s) => s.groupId)).toEqual(['tenant-acme', 'tenant-acme']);
    expect(sent.map((s) => messageGroupOfMessage(s.message))).toEqual(['tenant-acme', 'tenant-acme']);
  });

  it('refuses a constant key SQS would refuse when the job is defined', () => {
    for (const bad of ['', 'has space', 'x'.repeat(129), 'é']) {
      expect(() =>
        defineJob('bad-key', { fairnessKey: bad }, (job) => {
          job.step('a', () => 1);
        }),
      ).toThrow(/^job 'bad-key': fairnessKey must be 1-128 letters, digits or ASCII punctuation/);
    }
    expect(() =>
      defineJob('good-key', { fairnessKey: 'tenant:acme/eu-1' }, (job) => {
        job.step('a', () => 1);
      }),
    ).not.toThrow();
  });

  it("refuses a key function's bad result, or its throw, when the run's plan is built", () => {
    expect(() => perTenant.plan({ tenant: 'two words' })).toThrow(
      /^job 'per-tenant': fairnessKey must be 1-128 letters/,
    );
    const throwing = defineJob(
      'throwing-key',
      {
        input: z.object({ tenant: z.string() }),
        fairnessKey: (input) => {
          if (input.tenant === 'none') throw new Error('no tenant');
          return input.tenant;
        },
      },
      (job) => {
        job.step('a', () => 1);
      },
    );
    expect(() => throwing.plan({ tenant: 'none' })).toThrow(
      "job 'throwing-key': fairnessKey function threw for this run's input: no tenant",
    );
  });
});
