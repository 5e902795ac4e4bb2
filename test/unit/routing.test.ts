import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { long } from '../../examples/index.ts';
import { readConfig } from '../../lib/aws/config.ts';
import { InvalidJobError } from '../../lib/errors.ts';
import { defineJob } from '../../lib/job/defineJob.ts';
import { currentAttemptOf, Dispatcher } from '../../lib/step/dispatch.ts';
import { PayloadStore } from '../../lib/step/payload.ts';

const env = {
  LAMBDAG_RUNS_TABLE: 'runs',
  LAMBDAG_IDEMPOTENCY_TABLE: 'idempotency',
  LAMBDAG_BUCKET: 'bucket',
  LAMBDAG_QUEUE_URL_DEFAULT: 'http://127.0.0.1:1/000000000000/steps',
};
const region = 'us-east-1';

function dispatcher(extra: Record<string, string> = {}): Dispatcher {
  const config = readConfig({ ...env, ...extra });
  return new Dispatcher(
    new SQSClient({ region }),
    config,
    new PayloadStore(new S3Client({ region }), 'bucket'),
  );
}

const promoted = defineJob('promoted', (job) => {
  job.step('grow', { onLambdaTimeout: 'ecs' }, () => 1);
});

describe('starting a job that needs ECS on a deployment without it', () => {
  it("refuses a runtime 'ecs' step, naming the step and the missing setting", () => {
    const check = () => dispatcher().checkRouting(long.plan(long.parseInput({})));
    expect(check).toThrow(InvalidJobError);
    expect(check).toThrow(
      "job 'long': step 'crunch' has runtime 'ecs', but this deployment has no ECS (LAMBDAG_ECS_CLUSTER is not set)",
    );
  });

  it("refuses an onLambdaTimeout 'ecs' step the same way", () => {
    expect(() => dispatcher().checkRouting(promoted.plan({}))).toThrow(
      "step 'grow' has onLambdaTimeout 'ecs', but this deployment has no ECS",
    );
  });

  it('accepts both once the deployment has ECS', () => {
    const withEcs = dispatcher({ LAMBDAG_ECS_CLUSTER: 'c', LAMBDAG_ECS_TASK_DEFINITION: 'td' });
    expect(() => withEcs.checkRouting(long.plan(long.parseInput({})))).not.toThrow();
    expect(() => withEcs.checkRouting(promoted.plan({}))).not.toThrow();
  });
});

describe("re-sending a step's current attempt", () => {
  const step = { runId: 'r', key: 'grow', status: 'QUEUED', attempt: 3, pending: 0, updatedAt: '' } as const;

  it('keeps a promoted step on ECS', () => {
    expect(currentAttemptOf({ ...step, promotedAt: 2 })).toEqual({ step: 'grow', attempt: 3, promotedAt: 2 });
  });

  it('sends any other step as it is', () => {
    expect(currentAttemptOf(step)).toEqual({ step: 'grow', attempt: 3 });
  });
});
