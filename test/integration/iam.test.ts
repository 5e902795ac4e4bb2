import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { ListTasksCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { Deps } from '../../lib/deps.ts';
import type { PolicyStatement } from '../../local/iam/policy.ts';
import type { Role } from '../../local/iam/roles.ts';
import { useStack } from '../support/stack.ts';

/** The error an SDK call fails with (name and message), or 'ok'. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

function depsOf(handle: ReturnType<typeof useStack>, name: string): Deps {
  const deps = handle.stack.functionDeps.get(name);
  if (!deps) throw new Error(`no function ${name}`);
  return deps;
}

describe('IAM on the embedded stack: every function signs as its own role', () => {
  const handle = useStack();

  it('lets a function do what its role allows', async () => {
    const { aws, config } = depsOf(handle, 'stepWorker');
    const received = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: config.queues.default, WaitTimeSeconds: 0 }),
    );
    expect(received.$metadata.httpStatusCode).toBe(200);
  });

  it('refuses, in each protocol, what the role does not allow, naming the caller, action and resource', async () => {
    const poll = depsOf(handle, 'pollRun');
    const { runsTable, bucket, queues } = poll.config;
    // Named as CloudFormation names a role the template leaves unnamed: <stack>-<logical id>-<random>.
    const role = handle.stack.iam.roles().find((r) => r.logicalId === 'PollRunRole')?.name;
    expect(role).toMatch(/^lambdag-local-PollRunRole-[0-9A-F]{12}$/);
    const caller = `arn:aws:sts::000000000000:assumed-role/${role}/lambdag-local-pollRun`;

    const dynamo = await outcome(() =>
      poll.aws.dynamodb.send(
        new DeleteItemCommand({ TableName: runsTable, Key: { pk: { S: 'x' }, sk: { S: 'y' } } }),
      ),
    );
    expect(dynamo).toBe(
      `AccessDeniedException: User: ${caller} is not authorized to perform: dynamodb:DeleteItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${runsTable} because no identity-based policy allows the dynamodb:DeleteItem action`,
    );
    const sqs = await outcome(() => poll.aws.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.default })));
    expect(sqs).toMatch(
      /^AccessDenied.*: User: .*PollRunRole.* is not authorized to perform: sqs:PurgeQueue on resource: arn:aws:sqs:us-east-1:000000000000:lambdag-local-steps /,
    );
    const s3 = await outcome(() =>
      poll.aws.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'runs/x' })),
    );
    expect(s3).toMatch(
      /^AccessDenied: .*PollRunRole.* s3:DeleteObject on resource: arn:aws:s3:::lambdag-local-artifacts-us-east-1\/runs\/x/,
    );
    const sfn = await outcome(() =>
      poll.aws.sfn.send(new StartExecutionCommand({ stateMachineArn: handle.stack.stateMachineArn })),
    );
    expect(sfn).toMatch(
      /^AccessDeniedException: .*PollRunRole.* states:StartExecution on resource: arn:aws:states:/,
    );
    const ecs = await outcome(() =>
      depsOf(handle, 'startRun').aws.ecs.send(new RunTaskCommand({ taskDefinition: 'lambdag-local-step' })),
    );
    expect(ecs).toMatch(
      /^AccessDeniedException: .*StartRunRole.* ecs:RunTask on resource: arn:aws:ecs:us-east-1:000000000000:task-definition\/lambdag-local-step:1/,
    );
  });

  it('checks RunTask against the cluster condition and the roles it passes', async () => {
    const worker = depsOf(handle, 'stepWorker');
    // The role allows RunTask only in the stage's cluster (Condition ArnEquals ecs:cluster).
    const elsewhere = await outcome(() =>
      worker.aws.ecs.send(new RunTaskCommand({ cluster: 'other', taskDefinition: 'lambdag-local-step' })),
    );
    expect(elsewhere).toMatch(/AccessDeniedException: .*StepWorkerRole.* ecs:RunTask/);
    const list = await outcome(() => worker.aws.ecs.send(new ListTasksCommand({ cluster: 'lambdag-local' })));
    expect(list).toMatch(/AccessDeniedException: .*ecs:ListTasks/);
  });

  it('lets the stack itself, the CLI and tests (the admin key) do anything', async () => {
    const worker = await outcome(() =>
      handle.stack.deps.aws.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: handle.stack.stateMachineArn }),
      ),
    );
    expect(worker).toMatch(/AccessDeniedException: .*StepWorkerRole.* states:ListExecutions/);
    // The test's own deps sign with the stack's admin key, as the CLI does.
    const admin = await outcome(() =>
      handle.deps.aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: handle.stack.stateMachineArn })),
    );
    expect(admin).toBe('ok');
  });

  it('runs a job with no request denied, and records what each principal was allowed and by which statement', async () => {
    const deniedBefore = handle.stack.iam.authority.usage().denied.length;
    const { runId } = await handle.client.startRun({ job: 'diamond', input: { x: 1 } });
    const run = await handle.client.waitForRun(runId);
    expect(run.status).toBe('SUCCEEDED');
    const { allowed, denied } = handle.stack.iam.authority.usage();
    const used = (principal: string, action: string) =>
      allowed.filter((u) => u.principal === principal && u.action === action);
    expect(used('lambdag-local-startRun', 'dynamodb:PutItem')[0]?.statement).toMatch(
      /^StartRunRole\/startRun#RunsTable$/,
    );
    expect(used('lambdag-local-stepWorker', 'sqs:ReceiveMessage').length).toBeGreaterThan(0);
    expect(used('lambdag-local-run', 'lambda:InvokeFunction').map((u) => u.resource)).toContain(
      'arn:aws:lambda:us-east-1:000000000000:function:lambdag-local-pollRun',
    );
    expect(denied.slice(deniedBefore)).toEqual([]);
  });
});

/** The role without `action` in any of its statements. */
function without(action: string, roleId: string) {
  return (role: Role): Role => {
    if (role.logicalId !== roleId) return role;
    const statements = role.statements.map((sourced) => {
      const actions = ([] as string[]).concat(sourced.statement.Action ?? []);
      const kept = actions.filter((a) => a !== action);
      return { ...sourced, statement: { ...sourced.statement, Action: kept } as PolicyStatement };
    });
    return { ...role, statements };
  };
}

describe('a role missing one permission it needs', () => {
  const handle = useStack({ editRole: without('dynamodb:PutItem', 'StartRunRole') });

  it('fails the run visibly, with AccessDeniedException naming the action and the role', async () => {
    const { executionArn } = await handle.stack.startExecution({ job: 'diamond', input: { x: 1 } });
    const execution = await handle.stack.waitForExecution(executionArn);
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('AccessDeniedException');
    expect(execution.cause).toContain('lambdag-local-StartRunRole');
    expect(execution.cause).toContain('is not authorized to perform: dynamodb:PutItem');
  });
});

describe('S3 without s3:ListBucket', () => {
  const stripList = (role: Role): Role => without('s3:ListBucket', role.logicalId)(role);
  const handle = useStack({ editRole: stripList });

  it('answers a missing key with AccessDenied, not NoSuchKey, as S3 does', async () => {
    const worker = depsOf(handle, 'stepWorker');
    const key = 'runs/none/steps/a/1/output.json';
    await worker.aws.s3.send(
      new PutObjectCommand({ Bucket: worker.config.bucket, Key: 'runs/present', Body: '1' }),
    );
    const missing = await outcome(() =>
      worker.aws.s3.send(new GetObjectCommand({ Bucket: worker.config.bucket, Key: key })),
    );
    expect(missing).toBe('AccessDenied: Access Denied');
  });
});
