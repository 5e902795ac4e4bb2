import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildUi } from '../../ui/build.ts';

const DIST = join(import.meta.dirname, '../../ui/dist');
const out = mkdtempSync(join(tmpdir(), 'lambdag-ui-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the committed UI build', () => {
  it('is what `npm run build:ui` makes from ui/src (rebuild and commit ui/dist when this fails)', async () => {
    await buildUi(out);
    const files = readdirSync(out).sort();
    expect(readdirSync(DIST).sort()).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(DIST, file), 'utf8'), file).toBe(readFileSync(join(out, file), 'utf8'));
    }
  });
});
