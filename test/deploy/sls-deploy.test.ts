import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectsCommand, ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, createAwsClients } from '../../lib/aws/clients.ts';
import { type DeployTarget, startDeployTarget } from '../../local/deployTarget.ts';

/**
 * The literal deploy path of docs/deploy.md: `sls deploy --stage local` (serverless-localstack
 * pointed at the deploy target's edge endpoint), `sls info`, a run of the diamond job through
 * the deployed state machine on the code from the deployed zips, a redeploy of a changed step,
 * and `sls remove`. Serverless runs in a copy of the project, so its build directories are its
 * own and a step can be changed there.
 */

const root = join(import.meta.dirname, '../..');
const slsBin = join(root, 'node_modules/serverless/bin/serverless.js');
const FUNCTIONS = ['startRun', 'pollRun', 'finalizeRun', 'executionEnded', 'stepWorker'] as const;
const scratch = mkdtempSync(join(tmpdir(), 'lambdag-sls-deploy-'));
const project = join(scratch, 'project');
let target: DeployTarget;
/** How far the deployed schedules' clock is ahead of the real one. */
let clockOffsetMs = 0;

interface SlsResult {
  readonly code: number | null;
  readonly output: string;
}

function sls(args: string[]): Promise<SlsResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: scratch,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_TRACKING_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    // How often Serverless polls the stack's events (default 5 s).
    SLS_AWS_MONITORING_FREQUENCY: '250',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(scratch, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'aws-credentials'),
    // serverless-localstack's documented setting: every service at this one endpoint.
    AWS_ENDPOINT_URL: target.endpoint,
    NO_COLOR: '1',
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [slsBin, ...args],
      { cwd: project, env, timeout: 240_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

async function deploy(): Promise<void> {
  const result = await sls(['deploy', '--stage', 'local']);
  if (result.code !== 0) throw new Error(`sls deploy --stage local failed:\n${result.output}`);
}

async function stackStatus(): Promise<string | undefined> {
  const cfn = new CloudFormationClient(clientConfig('cloudformation', target.clientOptions));
  const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'lambdag-local' }));
  return Stacks?.[0]?.StackStatus;
}

/** Start the diamond job through the deployed state machine (client-sfn, as a user would) and wait for its end. */
async function runDiamond(): Promise<Execution> {
  const { sfn } = createAwsClients(target.clientOptions);
  const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:lambdag-local-run';
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      input: JSON.stringify({ job: 'diamond', input: { x: 1 } }),
    }),
  );
  return finished(executionArn as string);
}

interface Execution {
  readonly status?: string;
  readonly input?: string;
  readonly output?: string;
  readonly cause?: string;
}

/** The execution once it has ended. */
async function finished(executionArn: string): Promise<Execution> {
  const { sfn } = createAwsClients(target.clientOptions);
  for (let i = 0; i < 600; i++) {
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING') return execution;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${executionArn} still running`);
}

/** The SHA-256 (base64, as Lambda's CodeSha256) of each zip Serverless packaged and uploaded. */
function packagedCode(): Record<string, string> {
  return Object.fromEntries(
    FUNCTIONS.map((fn) => [
      `lambdag-local-${fn}`,
      createHash('sha256')
        .update(readFileSync(join(project, '.serverless', `${fn}.zip`)))
        .digest('base64'),
    ]),
  );
}

beforeAll(async () => {
  for (const part of [
    'serverless.yml',
    'package.json',
    'tsconfig.json',
    'handlers',
    'lib',
    'examples',
    'statemachines',
  ]) {
    cpSync(join(root, part), join(project, part), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'), 'dir');
  target = await startDeployTarget({
    logLevel: 'SILENT',
    // The project's own roles, as deployed: their grants join the suite's IAM-usage check.
    recordIamUsage: true,
    workDir: join(scratch, 'target'),
    scheduler: { now: () => Date.now() + clockOffsetMs, checkEveryMs: 0 },
  });
}, 60_000);

afterAll(async () => {
  await target?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('sls deploy --stage local into the embedded stack', () => {
  it('deploys the stack, and sls info shows its outputs', async () => {
    await deploy();

    expect(await stackStatus()).toBe('UPDATE_COMPLETE');
    expect(
      target.lambda
        .list()
        .map((fn) => fn.functionName)
        .sort(),
    ).toEqual(FUNCTIONS.map((fn) => `lambdag-local-${fn}`).sort());
    const info = await sls(['info', '--stage', 'local', '--verbose']);
    expect(info.code, info.output).toBe(0);
    expect(info.output).toContain(
      'RunStateMachineArn: arn:aws:states:us-east-1:000000000000:stateMachine:lambdag-local-run',
    );
    expect(info.output).toContain('RunsTableName: lambdag-local-runs');
  }, 300_000);

  it('runs the diamond job through the deployed state machine, on the code of the deployed zips', async () => {
    const code = packagedCode();

    const execution = await runDiamond();

    expect(execution.status, execution.cause).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}').result).toEqual({ b: 4, c: 6, sum: 10 });
    const invoked = new Set(target.lambda.invocations.map((i) => i.functionName));
    expect([...invoked].sort()).toEqual(
      ['startRun', 'pollRun', 'finalizeRun', 'stepWorker'].map((fn) => `lambdag-local-${fn}`).sort(),
    );
    for (const invocation of target.lambda.invocations) {
      expect(invocation.codeSha256, invocation.functionName).toBe(code[invocation.functionName]);
    }
  }, 120_000);

  it('fires the job schedule deployed to the stage, as its role', async () => {
    expect(target.schedules.upcoming().map((s) => s.name)).toEqual(['lambdag-local-diamond-every-minute']);

    clockOffsetMs = 61_000;
    const [firing, ...others] = target.schedules.fireDue();

    expect(others).toEqual([]);
    expect(firing?.error).toBeUndefined();
    const execution = await finished(firing?.executionArn as string);
    expect(execution.status, execution.cause).toBe('SUCCEEDED');
    expect(JSON.parse(execution.input ?? '{}')).toEqual({
      job: 'diamond',
      input: { x: 1 },
      clientToken: `schedule/diamond/every-minute/${firing?.tick}`,
    });
  }, 120_000);

  it('runs a changed step after a second deploy, without a restart', async () => {
    const job = join(project, 'examples/diamond/job.ts');
    const source = readFileSync(job, 'utf8');
    expect(source).toContain('({ a }) => a * 2)');
    writeFileSync(job, source.replace('({ a }) => a * 2)', '({ a }) => a * 20)'));
    const before = target.lambda.invocations.length;

    await deploy();
    const execution = await runDiamond();

    expect(execution.status, execution.cause).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output ?? '{}').result).toEqual({ b: 40, c: 6, sum: 46 });
    const code = packagedCode();
    for (const invocation of target.lambda.invocations.slice(before)) {
      expect(invocation.codeSha256, invocation.functionName).toBe(code[invocation.functionName]);
    }
  }, 300_000);

  it('sls remove leaves no resources', async () => {
    // CloudFormation deletes no bucket with objects in it: the runs' artifacts go first, as on AWS.
    const admin = createAwsClients(target.clientOptions);
    const bucket = 'lambdag-local-artifacts-us-east-1';
    const { Contents = [] } = await admin.s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (Contents.length > 0) {
      await admin.s3.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: Contents.map(({ Key }) => ({ Key })) },
        }),
      );
    }

    const removed = await sls(['remove', '--stage', 'local']);

    expect(removed.code, removed.output).toBe(0);
    await expect(stackStatus()).rejects.toThrow('does not exist');
    expect(target.lambda.list()).toEqual([]);
    expect((await admin.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? []).toEqual([]);
    expect((await admin.dynamodb.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    expect((await admin.s3.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
    expect((await admin.sfn.send(new ListStateMachinesCommand({}))).stateMachines).toEqual([]);
  }, 300_000);
});
