import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packagedTemplate, templateKey } from '../../local/packagedTemplate.ts';

const ROOT = join(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'lambdag-template-key-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A project with the template's inputs copied from this one. */
function project(name: string): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'handlers'), { recursive: true });
  for (const input of ['serverless.yml', 'package-lock.json', 'statemachines']) {
    cpSync(join(ROOT, input), join(root, input), { recursive: true });
  }
  writeFileSync(join(root, 'handlers/startRun.ts'), 'export const version = 1;\n');
  return root;
}

const options = (root: string) => ({ root, stage: 'local', region: 'us-east-1' });

describe("the packaged template's cache key", () => {
  it('is the same for the same inputs, whatever the code', () => {
    const root = project('same');
    const before = templateKey(options(root));
    writeFileSync(join(root, 'handlers/startRun.ts'), 'export const version = 2;\n');
    expect(templateKey(options(root))).toBe(before);
    expect(templateKey(options(project('copy')))).toBe(before);
  });

  it('changes with serverless.yml, statemachines/, package-lock.json, the stage and the region', () => {
    const root = project('changed');
    const keys = new Set([templateKey(options(root))]);
    keys.add(templateKey({ ...options(root), stage: 'dev' }));
    keys.add(templateKey({ ...options(root), region: 'eu-west-1' }));
    const variant = join(scratch, 'variant.yml');
    writeFileSync(variant, 'service: other\n');
    keys.add(templateKey({ ...options(root), serverlessFile: variant }));
    writeFileSync(join(root, 'statemachines/run.asl.json'), '{}');
    keys.add(templateKey(options(root)));
    writeFileSync(join(root, 'package-lock.json'), '{}');
    keys.add(templateKey(options(root)));
    expect(keys.size).toBe(6);
  });
});

describe('the packaged template', () => {
  it('comes from the cache when its inputs have a template there, without packaging', async () => {
    const root = project('cached');
    const cacheDir = join(root, 'cache');
    mkdirSync(cacheDir);
    writeFileSync(join(cacheDir, `${templateKey(options(root))}.json`), '{"Resources":{}}');
    // No node_modules/serverless here: packaging would fail.
    const told: string[] = [];
    const onPackaging = () => told.push('packaging');
    expect(await packagedTemplate({ ...options(root), cacheDir, onPackaging })).toEqual({
      body: '{"Resources":{}}',
      file: join(cacheDir, `${templateKey(options(root))}.json`),
      packaged: false,
    });
    expect(told).toEqual([]);
  });

  it('says when it must package (the cache misses), before the seconds that takes', async () => {
    const root = project('cold');
    const told: string[] = [];
    const cold = packagedTemplate({
      ...options(root),
      cacheDir: join(root, 'cache'),
      onPackaging: () => told.push('packaging'),
    });
    // This project has no serverless to package with: the call fails, after saying so.
    await expect(cold).rejects.toThrow();
    expect(told).toEqual(['packaging']);
  });
});
