import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The ECS step image: `npm run build:ecs` bundles ecs/main.ts into dist/ecs/main.mjs, which
 * is all ecs/Dockerfile puts in the image. No Docker engine is needed (nor present on the
 * machines that run these tests): the bundle is run here as the image would run it.
 */

const root = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'lambdag-image-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { ...options, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('the ECS step image', () => {
  it('bundles ecs/main.ts into one file that needs nothing but Node, and exits 2 without a step message', async () => {
    const build = await run('npm', ['run', 'build:ecs'], { cwd: root, env: process.env });
    expect(build.code, `npm run build:ecs failed:\n${build.stdout}\n${build.stderr}`).toBe(0);

    // What the bundle loads at run time: its static imports (esbuild puts each on a line of
    // its own), dynamic imports and require() calls (an SDK error message quotes
    // `[require("@aws-sdk/signature-v4-crt");]`, which is text, not a call).
    const bundle = readFileSync(join(root, 'dist/ecs/main.mjs'), 'utf8');
    const loads = [
      ...bundle.matchAll(/^import\b[^\n]*?\bfrom\s*["']([^"']+)["'];/gm),
      ...bundle.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
      ...bundle.matchAll(/(?<!\[)\brequire\(\s*"([^"]+)"\s*\)/g),
    ].map((match) => match[1] ?? '');
    expect(loads.length).toBeGreaterThan(10);
    const imported = new Set(loads);
    expect([...imported].filter((name) => !isBuiltin(name))).toEqual([]);

    // Away from the repository (no node_modules to fall back on) and with no environment
    // at all, as in a container that RunTask gave no step.
    copyFileSync(join(root, 'dist/ecs/main.mjs'), join(scratch, 'main.mjs'));
    copyFileSync(join(root, 'dist/ecs/main.mjs.map'), join(scratch, 'main.mjs.map'));
    const started = await run(process.execPath, ['--enable-source-maps', 'main.mjs'], {
      cwd: scratch,
      env: {},
    });
    expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(2);
    expect(started.stderr).toContain('LAMBDAG_STEP_MESSAGE is not set');
  }, 90_000);

  it('is what ecs/Dockerfile runs: that bundle on node:22-slim, as a user other than root', () => {
    const dockerfile = readFileSync(join(root, 'ecs/Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM\s+/m).slice(1);
    const image = stages.at(-1) ?? '';
    expect(stages[0]).toMatch(/RUN npm ci\b/);
    expect(stages[0]).toMatch(/^RUN npm run build:ecs$/m);
    expect(image).toMatch(/^node:22-slim\n/);
    expect(image).toMatch(/^COPY --from=build \/src\/dist\/ecs\/ \.\/dist\/ecs\/$/m);
    expect(image).toMatch(/^USER (?!root$|0$)\S+$/m);
    expect(image).toMatch(/^CMD \["node", "--enable-source-maps", "dist\/ecs\/main\.mjs"\]$/m);

    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<
      string,
      string
    >;
    expect(scripts['build:ecs']).toContain('--outfile=dist/ecs/main.mjs');
    // The build context leaves out installed modules, builds and local state; git leaves out dist/.
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist', '.lambdag']));
    expect(readFileSync(join(root, '.gitignore'), 'utf8').split('\n')).toContain('/dist/');
  });
});
