import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedSum } from '../../examples/fanout/job.ts';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lambdag-cli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

type CliResult = { code: number; stdout: string; stderr: string };

/** Run the real CLI in a child process, as a user would; never throws on a non-zero exit. */
function lambdag(...args: string[]): Promise<CliResult> {
  return lambdagOn(process.execPath, home, args);
}

/** The CLI on a given Node binary with its own state folder. */
async function lambdagOn(node: string, lambdagHome: string, args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await exec(node, [join(root, 'bin/lambdag.js'), ...args], {
      cwd: root,
      env: { ...process.env, LAMBDAG_HOME: lambdagHome, NO_COLOR: '1' },
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * The Node a shell runs `npx lambdag` with: the first `node` on PATH outside node_modules (npm
 * scripts put the project's pinned Node 22 first). On these machines that is Node 20.
 */
function shellNode(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    if (existsSync(join(dir, 'node'))) return join(dir, 'node');
  }
  return process.execPath;
}

describe("lambdag on the shell's Node", () => {
  it("keeps the AWS SDK's Node-version warning out of stderr (the SDK warns below Node 22)", async () => {
    const { code, stdout, stderr } = await lambdagOn(shellNode(), join(home, 'shell-node'), ['runs']);
    expect(stderr).not.toContain('AWS SDK for JavaScript');
    expect(stderr).not.toMatch(/Node\w*Warning/);
    expect(code).toBe(0);
    expect(stdout).toContain('no runs yet');
  });
});

describe('npm run demo', () => {
  it('runs the diamond job through to SUCCEEDED and prints its output', async () => {
    const { stdout } = await exec('npm', ['run', '--silent', 'demo'], {
      cwd: root,
      env: { ...process.env, LAMBDAG_HOME: join(home, 'demo'), NO_COLOR: '1' },
      timeout: 240_000,
    });
    expect(stdout).toContain('SUCCEEDED');
    expect(stdout).toContain('"sum":10');
    expect(stdout).toMatch(/d\s+SUCCEEDED/);
  });
});

describe('lambdag run long --wait', () => {
  it("shows the ECS step's progress while it runs and exits 0 when the run succeeds", async () => {
    const { code, stdout, stderr } = await lambdag(
      'run',
      'long',
      '--input',
      '{"chunks":3,"chunkMs":600}',
      '--wait',
    );
    expect(code).toBe(0);
    expect(stderr).toMatch(/STEP_PROGRESS crunch#1 {2}chunk 1 of 3/);
    expect(stderr).toMatch(/STEP_PROGRESS crunch#1 {2}chunk 3 of 3/);
    expect(stdout).toContain('SUCCEEDED');
    // The steps table says where crunch ran.
    expect(stdout).toMatch(/crunch\s+SUCCEEDED\s+1\s+\d+ms\s+ECS task \w+/);
  });
});

describe('lambdag run --wait --json', () => {
  it('prints the outcome of a 1,000-step fan-out as JSON and exits 0', async () => {
    const { code, stdout } = await lambdag('run', 'fanout', '--input', '{"n":1000}', '--wait', '--json');
    expect(code).toBe(0);
    const outcome = JSON.parse(stdout) as { status: string; result: unknown; runId: string };
    expect(outcome.status).toBe('SUCCEEDED');
    expect(outcome.result).toEqual({ n: 1000, sum: expectedSum(1000) });
  });

  it('exits 1 with the failed step named when the run fails', async () => {
    const { code, stdout } = await lambdag('run', 'failing', '--wait', '--json');
    expect(code).toBe(1);
    const outcome = JSON.parse(stdout) as { status: string; error: { step: string } };
    expect(outcome.status).toBe('FAILED');
    expect(outcome.error.step).toBe('explode');
  });
});

describe('lambdag with bad input', () => {
  it('exits 2 and says the input is not JSON', async () => {
    const { code, stderr } = await lambdag('run', 'diamond', '--input', '{x:1}');
    expect(code).toBe(2);
    expect(stderr).toContain('--input is not valid JSON');
  });

  it('exits 2 and names the known jobs for an unknown job', async () => {
    const { code, stderr } = await lambdag('run', 'nope', '--wait');
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown job 'nope'; known jobs: .*diamond/);
  });

  it('exits 2 for an unknown run', async () => {
    const { code, stderr } = await lambdag('status', '01UNKNOWNRUN00000000000000');
    expect(code).toBe(2);
    expect(stderr).toContain("run '01UNKNOWNRUN00000000000000' not found");
  });
});

describe('lambdag status and logs on the on-disk state of one-shot runs', () => {
  it('shows a finished run and its events', async () => {
    const started = await lambdag('run', 'diamond', '--input', '{"x":4}', '--wait', '--json');
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    const status = await lambdag('status', runId);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('SUCCEEDED');
    expect(status.stdout).toMatch(/b\s+SUCCEEDED/);
    const logs = await lambdag('logs', runId);
    expect(logs.stdout).toContain('RUN_START');
    expect(logs.stdout).toContain('STEP_SUCCESS d');
    expect(logs.stdout).toContain('RUN_SUCCESS');
  });

  it('lists the steps in plan order and shows what they wrote with ctx.log after a run it waited for', async () => {
    const { code, stdout } = await lambdag('run', 'failing', '--wait');
    expect(code).toBe(1);
    const order = ['load', 'explode', 'report'].map((step) => stdout.search(new RegExp(`^${step}\\s`, 'm')));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(stdout).toMatch(/log of explode attempt 1\n.*writing 3 rows to the warehouse \{"rows":3\}/);
    expect(stdout).toContain('log of explode attempt 2');
  });
});

describe('lambdag ui', () => {
  it('serves the UI on 127.0.0.1 on a one-shot stack, prints its URL, and stops on SIGINT with exit 0', async () => {
    const child = spawn(process.execPath, [join(root, 'bin/lambdag.js'), 'ui'], {
      cwd: root,
      env: { ...process.env, LAMBDAG_HOME: home, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
          if (found) resolve(found[0]);
        });
        child.on('exit', () => reject(new Error(`lambdag ui exited: ${stdout}`)));
      });
      expect(stdout).toContain('one-shot local stack');
      expect(await (await fetch(url)).text()).toContain('<meta name="lambdag-token"');
      const { jobs } = (await (await fetch(new URL('/api/jobs', url))).json()) as {
        jobs: { name: string }[];
      };
      expect(jobs.map((j) => j.name)).toContain('diamond');
    } finally {
      // The process this test started, by its pid.
      if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGINT');
    }
    expect(await exited).toBe(0);
  });
});

describe('lambdag queues', () => {
  it('shows each step queue with its dead-letter queue', async () => {
    const { code, stdout } = await lambdag('queues', '--json');
    expect(code).toBe(0);
    const queues = JSON.parse(stdout) as {
      name: string;
      maxReceiveCount: number;
      dlq?: { visible: number };
    }[];
    expect(queues.map((q) => q.name).sort()).toEqual(['default', 'high']);
    for (const queue of queues) expect(queue).toMatchObject({ maxReceiveCount: 5, dlq: { visible: 0 } });
  });
});

describe('lambdag simulate', () => {
  it('runs random DAGs under the chosen faults and prints the audit as JSON, exit 0 when clean', async () => {
    const { code, stdout } = await lambdag(
      'simulate',
      '--runs',
      '3',
      '--min-steps',
      '5',
      '--max-steps',
      '12',
      '--seed',
      '42',
      '--faults',
      'duplicateSends=0.5,stepErrors=0.2',
      '--json',
    );
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      runs: number;
      runStatuses: Record<string, number>;
      faultsInjected: { duplicateSends: number; crashBeforeRecord: number };
    };
    expect(report).toMatchObject({ ok: true, runs: 3, runStatuses: { SUCCEEDED: 3 } });
    expect(report.faultsInjected.duplicateSends).toBeGreaterThan(0);
    expect(report.faultsInjected.crashBeforeRecord).toBe(0);
  });

  it('exits 2 naming an unknown fault and the known ones', async () => {
    const { code, stderr } = await lambdag('simulate', '--faults', 'gremlins=0.5');
    expect(code).toBe(2);
    expect(stderr).toContain("--faults: unknown fault 'gremlins'; known: duplicateSends, crashBeforeRecord");
  });
});
