import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

describe('the Node the suite runs on', () => {
  // npm scripts and npx put node_modules/.bin first on PATH, where the `node` devDependency links
  // the Node 22 that Lambda (nodejs22.x) runs. If its install script was skipped (allowScripts in
  // package.json), the suite would silently fall back to the shell's Node 20.
  it("is the project's pinned Node 22, not the shell's", () => {
    expect(process.version).toBe(`v${pkg.devDependencies.node}`);
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
  });
});
