import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Build the UI (ui/src) into `outdir`: app.js and app.css (one minified bundle each, Preact
 * and dagre inside) and index.html. The build is committed in ui/dist, so a user needs no
 * build step beyond `npm ci`; test/unit/uiBundle.test.ts checks it matches its sources.
 */
export async function buildUi(outdir: string): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: { app: join(import.meta.dirname, 'src/main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    outdir,
    logLevel: 'silent',
  });
  copyFileSync(join(import.meta.dirname, 'src/index.html'), join(outdir, 'index.html'));
}

if (process.argv[1] === import.meta.filename) await buildUi(join(import.meta.dirname, 'dist'));
