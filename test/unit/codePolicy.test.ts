import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

function sources(...dirs: string[]): { file: string; lines: string[] }[] {
  return dirs.flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .map((name) => {
        const path = join(root, dir, name);
        return { file: relative(root, path), lines: readFileSync(path, 'utf8').split('\n') };
      }),
  );
}

/** `file:line: text` of each line matching `pattern`, outside comments. */
function matches(files: { file: string; lines: string[] }[], pattern: RegExp): string[] {
  return files.flatMap(({ file, lines }) =>
    lines.flatMap((line, i) => {
      const code = line.trimStart();
      if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return [];
      return pattern.test(line) ? [`${file}:${i + 1}: ${code}`] : [];
    }),
  );
}

const shipped = sources('lib', 'handlers', 'cli', 'ecs', 'local');

/** `process.env.X =`, `process.env[x] ??=`, `Object.assign(process.env, ...)`, `delete process.env.X`. */
const ENV_WRITE =
  /process\.env(\.\w+|\[[^\]]+\])\s*(=[^=]|\?\?=|\|\|=)|Object\.assign\(\s*process\.env|delete\s+process\.env/;

describe('configuration', () => {
  it('is never passed by writing process.env in lib/, handlers/, cli/, ecs/ or local/', () => {
    const writes = matches(shipped, ENV_WRITE);
    expect(writes).toEqual([]);
  });

  it('is read from the environment only by lib/aws/config.ts in lib/ and handlers/', () => {
    const reads = matches(sources('lib', 'handlers'), /process\.env/).filter(
      (hit) => !hit.startsWith(join('lib', 'aws', 'config.ts')),
    );
    expect(reads).toEqual([]);
  });

  it('catches the writes it looks for', () => {
    const sample = [
      { file: 'x.ts', lines: ["process.env.AWS_REGION = 'eu-west-1';", 'Object.assign(process.env, env);'] },
      { file: 'y.ts', lines: ["process.env[name] ??= 'v';", "if (process.env.X === '1') go();"] },
    ];
    expect(matches(sample, ENV_WRITE)).toHaveLength(3);
  });
});

/** Plain `throw new Error` allowed, by file, each with why: none is left. */
const PLAIN_ERRORS_LEFT: Readonly<Record<string, number>> = {};

describe('errors that leave a module', () => {
  it('are typed LambdagErrors with stable codes, not plain Errors', () => {
    const plain = matches(shipped, /throw new Error\(/);
    const counts = new Map<string, number>();
    for (const hit of plain) {
      const file = hit.slice(0, hit.indexOf(':'));
      counts.set(file, (counts.get(file) ?? 0) + 1);
    }
    const unlisted = [...counts].filter(([file, n]) => n > (PLAIN_ERRORS_LEFT[file] ?? 0));
    expect(unlisted.flatMap(([file]) => plain.filter((hit) => hit.startsWith(`${file}:`)))).toEqual([]);
  });
});
