/**
 * `npm run bench:start [-- --warm 5]`
 *
 * What starting the embedded stack costs now that it provisions itself from the packaged
 * template (local/packagedTemplate.ts): a cold start packages the template (`sls package
 * --stage local` into an empty cache directory) and provisions from it; a warm start finds
 * the template cached. Each start is timed to a running stack (startLocalStack resolved) and
 * stopped. Writes bench/results/stack-start.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packagedTemplate } from '../local/packagedTemplate.ts';
import { startLocalStack } from '../local/stack.ts';

const { values } = parseArgs({ options: { warm: { type: 'string', default: '5' } } });
const warmRuns = Number(values.warm);
if (!Number.isInteger(warmRuns) || warmRuns < 1)
  throw new Error(`--warm must be a whole number >= 1, got '${values.warm}'`);
const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(import.meta.dirname, 'results');

/** Milliseconds `work` took. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return Math.round(performance.now() - started);
}

async function startAndStop(): Promise<number> {
  let stop = async () => {};
  const ms = await timed(async () => {
    const stack = await startLocalStack({ logLevel: 'ERROR' });
    stop = stack.stop;
  });
  await stop();
  return ms;
}

// Cold: the packaging alone, into a cache of its own (the project's cache is left as it is).
const coldCache = mkdtempSync(join(tmpdir(), 'lambdag-template-cache-'));
let packageMs: number;
try {
  packageMs = await timed(() =>
    packagedTemplate({ root: ROOT, stage: 'local', region: 'us-east-1', cacheDir: coldCache }),
  );
} finally {
  rmSync(coldCache, { recursive: true, force: true });
}
// The first start fills the project's cache if it is empty; then the warm starts.
await startAndStop();
const warmMs: number[] = [];
for (let i = 0; i < warmRuns; i++) warmMs.push(await startAndStop());
const sorted = [...warmMs].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] as number;
const result = {
  packageMs,
  warmStartMs: warmMs,
  warmStartMedianMs: median,
  coldStartEstimateMs: packageMs + median,
};
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, 'stack-start.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
