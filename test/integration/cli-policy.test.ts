import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../examples/registry.ts';
import type { Credentials } from '../../local/iam/authority.ts';
import type { PolicyStatement, SourcedStatement } from '../../local/iam/policy.ts';
import { checkStatement } from '../../local/iam/policy.ts';
import { useStack } from '../support/stack.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lambdag-cli-policy-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/**
 * The least-privilege policy docs/deploy.md gives a CLI user: the JSON block after the
 * `cli-user-policy` marker, its placeholders filled in for the embedded stack.
 */
function documentedPolicy(): SourcedStatement[] {
  const doc = readFileSync(join(root, 'docs/deploy.md'), 'utf8');
  const match = /<!-- cli-user-policy -->\s*```json\n([\s\S]*?)```/.exec(doc);
  if (!match) throw new Error('docs/deploy.md has no ```json block after <!-- cli-user-policy -->');
  const values: Record<string, string> = { Region: 'us-east-1', Account: '000000000000', Stage: 'local' };
  const text = (match[1] as string).replace(
    /\$\{(Region|Account|Stage)\}/g,
    (_, name: string) => values[name] as string,
  );
  const policy = JSON.parse(text) as { Statement: PolicyStatement[] };
  return policy.Statement.map((statement, i) => {
    const sourced = { statement, source: `CliUser#${statement.Sid ?? i}` };
    checkStatement(sourced);
    return sourced;
  });
}

/**
 * Actions the documented policy grants that the embedded stack cannot exercise, and why.
 */
const NOT_EXERCISED: Readonly<Record<string, string>> = {
  'states:DescribeExecution':
    "`run --wait` asks Step Functions why only when StartRun itself failed; the CLI validates the job and input first, so that takes a deployment whose jobs differ from the CLI's",
  'cloudformation:DescribeStacks':
    "the CLI reads the stage's stack outputs when LAMBDAG_* are not exported; the embedded stack has no CloudFormation, so the test exports them",
};

describe('the CLI user policy in docs/deploy.md', () => {
  // The CLI in its own process knows the deployed jobs (examples/registry.ts): so does this stack.
  const handle = useStack({ registry, registryModule: join(root, 'examples/registry.ts') });
  let credentials: Credentials;
  let statements: SourcedStatement[];

  beforeAll(() => {
    statements = documentedPolicy();
    credentials = handle.stack.iam.authority.issueUser('lambdag-cli', statements).credentials;
  });

  /** The real CLI in a child process, signing as the documented user, against the stack's one endpoint. */
  async function lambdag(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(
        process.execPath,
        [join(root, 'bin/lambdag.js'), ...args, '--endpoint', handle.stack.endpoints.sfn],
        {
          cwd: root,
          env: {
            ...process.env,
            ...handle.stack.env,
            AWS_ACCESS_KEY_ID: credentials.accessKeyId,
            AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
            LAMBDAG_HOME: home,
            NO_COLOR: '1',
          },
          timeout: 120_000,
        },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof e.code === 'number' ? e.code : -1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      };
    }
  }

  it('lets the user start, watch, inspect, cancel and rerun runs and look after the queues', async () => {
    const done = await lambdag('run', 'diamond', '--input', '{"x":1}', '--wait', '--json');
    expect(done.stderr).not.toMatch(/AccessDenied/);
    expect(done.code).toBe(0);
    const runId = (JSON.parse(done.stdout) as { runId: string }).runId;
    for (const args of [
      ['status', runId],
      ['logs', runId],
      ['runs', '--job', 'diamond'],
      ['queues'],
      ['dlq', 'list'],
      ['concurrency', 'set', 'cli-policy-key', '2'],
      ['concurrency'],
    ]) {
      const result = await lambdag(...args);
      expect(result.stderr, args.join(' ')).not.toMatch(/AccessDenied/);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    const failed = await lambdag('run', 'failing', '--wait', '--json');
    expect(failed.stderr).not.toMatch(/AccessDenied/);
    const failedId = (JSON.parse(failed.stdout) as { runId: string }).runId;
    // A step's log lines: listed under the run's logs/ prefix only, then read.
    const stepLogs = await lambdag('logs', failedId, '--step', 'explode');
    expect(stepLogs.stderr).not.toMatch(/AccessDenied/);
    expect(stepLogs.stdout).toContain('writing 3 rows to the warehouse');
    // Listing is allowed under logs/ prefixes only, not the run's other artifacts.
    const s3 = new S3Client({
      endpoint: handle.stack.endpoints.s3,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    });
    await expect(
      s3.send(new ListObjectsV2Command({ Bucket: handle.deps.config.bucket, Prefix: `runs/${failedId}/` })),
    ).rejects.toThrow(/AccessDenied|not authorized/);
    const rerun = await lambdag('rerun', failedId, '--from-failure');
    expect(rerun.stderr).not.toMatch(/AccessDenied/);
    expect(rerun.code, rerun.stderr).toBe(0);
    const slow = await lambdag('run', 'long', '--input', '{"chunks":30,"chunkMs":1000}', '--json');
    const slowId = (JSON.parse(slow.stdout) as { runId: string }).runId;
    const cancel = await lambdag('cancel', slowId, '--wait', '--json');
    expect(cancel.stderr).not.toMatch(/AccessDenied/);
    // `cancel --wait` exits 1 when the run ends CANCELED.
    expect(cancel.code, cancel.stderr).toBe(1);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ runId: slowId, status: 'CANCELED' });
    // A large input goes to S3 first; a run id that does not exist is looked up in Step Functions.
    const big = join(home, 'big-input.json');
    writeFileSync(big, JSON.stringify({ x: 1, padding: 'p'.repeat(300_000) }));
    const large = await lambdag('run', 'diamond', '--input-file', big, '--json');
    expect(large.stderr).not.toMatch(/AccessDenied/);
    expect(large.code, large.stderr).toBe(0);
    const missing = await lambdag('status', '01M0000000000000000000NONE');
    expect(missing.stderr).not.toMatch(/AccessDenied/);
    expect(missing.stderr).toMatch(/not found/i);
    // A dead letter (an old attempt of a finished run) to list and redrive.
    const dlq = (handle.stack.env.LAMBDAG_QUEUE_URL_DEFAULT as string).replace(/-steps$/, '-steps-dlq');
    await handle.deps.aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: JSON.stringify({ v: 1, runId, job: 'diamond', step: 'a', attempt: 1, input: { x: 1 } }),
      }),
    );
    const listed = await lambdag('dlq', 'list');
    expect(listed.stderr).not.toMatch(/AccessDenied/);
    expect(listed.stdout).toContain(runId);
    const redrive = await lambdag('dlq', 'redrive');
    expect(redrive.stderr).not.toMatch(/AccessDenied/);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.stdout).toMatch(/1/);
  });

  it('grants nothing the CLI did not use', () => {
    const { allowed } = handle.stack.iam.authority.usage();
    const used = new Set(
      allowed.filter((u) => u.principal === 'lambdag-cli').map((u) => u.action.toLowerCase()),
    );
    if (process.env.LAMBDAG_PRINT_CLI_ACTIONS) console.log([...used].sort().join('\n'));
    const granted = statements.flatMap(({ statement }) => ([] as string[]).concat(statement.Action ?? []));
    const unused = granted.filter((action) => !used.has(action.toLowerCase()) && !NOT_EXERCISED[action]);
    expect(unused).toEqual([]);
  });
});
