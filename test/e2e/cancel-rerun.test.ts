import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const home = mkdtempSync(join(tmpdir(), 'lambdag-cancel-rerun-'));
const env = { ...process.env, LAMBDAG_HOME: home, NO_COLOR: '1' };

/** Run the real CLI in a child process, as a user would; never throws on a non-zero exit. */
async function lambdag(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return lambdagIn(env, ...args);
}

async function lambdagIn(
  childEnv: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, 'bin/lambdag.js'), ...args], {
      cwd: root,
      env: childEnv,
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

// A rerun reads its parent's outputs from S3, which a one-shot stack keeps only in memory:
// these commands share one long-lived `lambdag local up`, as a user would.
let stack: ChildProcess | undefined;
beforeAll(async () => {
  stack = spawn(process.execPath, [join(root, 'bin/lambdag.js'), 'local', 'up'], {
    cwd: root,
    env,
    stdio: 'ignore',
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(home, 'stack.json'))) {
    if (Date.now() > deadline || stack.exitCode !== null) throw new Error('lambdag local up did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 90_000);
afterAll(async () => {
  await lambdag('local', 'down');
  // Only if `local down` could not stop it: the process this file started, by its pid.
  if (stack && stack.exitCode === null && stack.pid) process.kill(stack.pid, 'SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

async function finishedRun(job: string, ...args: string[]): Promise<string> {
  const { stdout } = await lambdag('run', job, ...args, '--wait', '--json');
  return (JSON.parse(stdout) as { runId: string }).runId;
}

describe('lambdag cancel', () => {
  it('exits 0 with a no-op message for a finished run and leaves it as it was', async () => {
    const runId = await finishedRun('diamond', '--input', '{"x":1}');
    const { code, stdout } = await lambdag('cancel', runId);
    expect(code).toBe(0);
    expect(stdout).toContain(`run '${runId}' already finished SUCCEEDED; nothing to cancel`);
    const status = await lambdag('status', runId, '--json');
    expect((JSON.parse(status.stdout) as { status: string }).status).toBe('SUCCEEDED');
  });

  it('exits 2 for an unknown run', async () => {
    const { code, stderr } = await lambdag('cancel', '01UNKNOWNRUN00000000000000');
    expect(code).toBe(2);
    expect(stderr).toContain("run '01UNKNOWNRUN00000000000000' not found [RUN_NOT_FOUND]");
  });
});

describe('lambdag logs', () => {
  it('shows one step’s events and what it wrote with ctx.log, attempt by attempt', async () => {
    const runId = await finishedRun('failing');
    const logs = await lambdag('logs', runId, '--step', 'explode');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('STEP_RETRY explode');
    expect(logs.stdout).not.toContain('STEP_SUCCESS load');
    expect(logs.stdout).toMatch(/log of explode attempt 1\n.*writing 3 rows to the warehouse \{"rows":3\}/);
    expect(logs.stdout).toContain('log of explode attempt 2');
  });
});

describe('lambdag rerun', () => {
  it('re-runs a failed run from its failure, reusing what succeeded (exit 1: it fails again)', async () => {
    const parent = await finishedRun('failing');
    const { code, stdout } = await lambdag('rerun', parent, '--from-failure', '--wait', '--json');
    expect(code).toBe(1);
    const outcome = JSON.parse(stdout) as {
      status: string;
      parentRunId: string;
      counts: { reused: number };
      error: { step: string };
    };
    expect(outcome).toMatchObject({ status: 'FAILED', parentRunId: parent, error: { step: 'explode' } });
    // load and audit succeeded in the parent: reused, not run.
    expect(outcome.counts.reused).toBe(2);
  });

  it('re-runs chosen steps and their downstream (exit 0), and shows the reused steps', async () => {
    const parent = await finishedRun('diamond', '--input', '{"x":1}');
    const { code, stdout } = await lambdag('rerun', parent, '--steps', 'c', '--wait');
    expect(code).toBe(0);
    expect(stdout).toContain('SUCCEEDED');
    expect(stdout).toMatch(new RegExp(`a\\s+SUCCEEDED.*reused from ${parent}`));
    expect(stdout).toContain(`rerun of ${parent}`);
    expect(stdout).toContain('"sum":10');
  });

  it('exits 2 naming the problem for bad input', async () => {
    const parent = await finishedRun('diamond', '--input', '{"x":2}');
    const fromFailure = await lambdag('rerun', parent, '--from-failure');
    expect(fromFailure.code).toBe(2);
    expect(fromFailure.stderr).toContain('it succeeded, so there is no failure to re-run from');
    const unknown = await lambdag('rerun', parent, '--steps', 'c,nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("job 'diamond' has no step 'nope'");
  });

  it('exits 2 on a one-shot local stack, which does not keep the outputs a rerun reuses', async () => {
    const elsewhere = join(home, 'one-shot');
    const { code, stderr } = await lambdagIn(
      { ...env, LAMBDAG_HOME: elsewhere },
      'rerun',
      '01ANYRUN000000000000000000',
      '--from-failure',
    );
    expect(code).toBe(2);
    expect(stderr).toContain("start a stack with 'lambdag local up'");
  });
});
