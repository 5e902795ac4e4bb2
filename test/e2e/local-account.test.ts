import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../lib/aws/clients.ts';

/**
 * `lambdag local up --empty` leaves its state as `local up` does: the other commands reach
 * the stage deployed into it without --endpoint, and `lambdag local down` stops it.
 */

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lambdag-local-account-'));
const env = { ...process.env, LAMBDAG_HOME: home, NO_COLOR: '1' };
const stateFile = join(home, 'stack.json');
let account: ChildProcess | undefined;
let exited: Promise<number | null>;

async function lambdag(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, 'bin/lambdag.js'), ...args], {
      cwd: root,
      env,
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface State {
  readonly pid: number;
  readonly kind: string;
  readonly env: Record<string, string>;
}

const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as State;

/** A stage as small as the CLI's `queues` needs: its queues, bucket and tables, and their outputs. */
const STAGE_TEMPLATE = {
  Resources: {
    StepsQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'lambdag-local-steps' } },
    StepsHighQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'lambdag-local-steps-high' } },
    ArtifactsBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'lambdag-local-artifacts' } },
    RunsTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: 'lambdag-local-runs',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      },
    },
  },
  Outputs: {
    RunStateMachineArn: { Value: 'arn:aws:states:us-east-1:000000000000:stateMachine:lambdag-local-run' },
    StepsQueueUrl: { Value: { Ref: 'StepsQueue' } },
    StepsHighQueueUrl: { Value: { Ref: 'StepsHighQueue' } },
    ArtifactsBucketName: { Value: { Ref: 'ArtifactsBucket' } },
    RunsTableName: { Value: { Ref: 'RunsTable' } },
    IdempotencyTableName: { Value: { Ref: 'RunsTable' } },
  },
};

beforeAll(async () => {
  account = spawn(process.execPath, [join(root, 'bin/lambdag.js'), 'local', 'up', '--empty', '--port', '0'], {
    cwd: root,
    env,
    stdio: 'ignore',
  });
  const child = account;
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!existsSync(stateFile)) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error('lambdag local up --empty wrote no state');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 60_000);

afterAll(async () => {
  // Only if `local down` could not stop it: the process this file started, by its pid.
  if (account && account.exitCode === null && account.pid) process.kill(account.pid, 'SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

describe('lambdag local up --empty', () => {
  it('writes its state: its pid, and its edge endpoint with the admin key', () => {
    const written = state();
    expect(written.pid).toBe(account?.pid);
    expect(written.kind).toBe('account');
    expect(written.env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(written.env).toMatchObject({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
  });

  it('is the running stack: a second `local up` is refused', async () => {
    const second = await lambdag('local', 'up');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`a local stack is already running (pid ${account?.pid})`);
  });

  it('lets the other commands reach the stage deployed into it, without --endpoint', async () => {
    const { env: reach } = state();
    const cfn = new CloudFormationClient(
      clientConfig('cloudformation', {
        endpoints: { cloudformation: reach.AWS_ENDPOINT_URL as string },
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      }),
    );
    await cfn.send(
      new CreateStackCommand({ StackName: 'lambdag-local', TemplateBody: JSON.stringify(STAGE_TEMPLATE) }),
    );
    for (let status = ''; status !== 'CREATE_COMPLETE'; ) {
      const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'lambdag-local' }));
      status = Stacks?.[0]?.StackStatus ?? '';
      expect(status).toMatch(/^CREATE_(IN_PROGRESS|COMPLETE)$/);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const queues = await lambdag('queues', '--json');
    expect(queues.stderr).toBe('');
    expect(queues.code).toBe(0);
    // The step queues named by the stack's outputs, read from the account's CloudFormation.
    expect((JSON.parse(queues.stdout) as { name: string }[]).map((q) => q.name)).toEqual(['default', 'high']);
  });

  it('is stopped by `lambdag local down`, which removes its state', async () => {
    const down = await lambdag('local', 'down');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`(pid ${account?.pid}) stopped`);
    expect(await exited).toBe(0);
    expect(existsSync(stateFile)).toBe(false);
  });
});
