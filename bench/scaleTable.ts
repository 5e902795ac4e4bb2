/**
 * `npm run bench:scale-model`: the model of bench/scaleModel.ts over N = 10^4..10^6 and
 * C = 100..5,000, written to bench/results/scale-model.json and printed as the markdown
 * table docs/scaling.md shows (test/unit/scaleModel.test.ts keeps the two the same).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Layout,
  type ModelOptions,
  modelRun,
  ONE_KEY,
  type ScaleReport,
  SPREAD,
  type Workload,
} from './scaleModel.ts';

export const STEP_COUNTS = [10_000, 100_000, 1_000_000] as const;
export const CONCURRENCIES = [100, 1_000, 5_000] as const;
/** A one-second step in batches of 10 (serverless.yml's stepWorkerBatchSize), 0.1 s of lambdag's own. */
export const BASE_WORKLOAD: Omit<Workload, 'steps' | 'concurrency'> = {
  batchSize: 10,
  stepSeconds: 1,
  overheadSeconds: 0.1,
};

export function scaleReports(layout: Layout = ONE_KEY, options: ModelOptions = {}): ScaleReport[] {
  return STEP_COUNTS.flatMap((steps) =>
    CONCURRENCIES.map((concurrency) => modelRun({ ...BASE_WORKLOAD, steps, concurrency }, layout, options)),
  );
}

/** The views docs/scaling.md shows, in order. */
export const VIEWS: readonly { title: string; layout: Layout; options: ModelOptions }[] = [
  { title: 'Before: one partition key per run, before DynamoDB splits it', layout: ONE_KEY, options: {} },
  {
    title: 'Before, after a split for heat (the best case)',
    layout: ONE_KEY,
    options: { splitForHeat: true },
  },
  { title: 'Now: 16 partition keys per run, before any split', layout: SPREAD, options: {} },
  { title: 'Now, after a split for heat', layout: SPREAD, options: { splitForHeat: true } },
];

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const duration = (seconds: number) =>
  seconds < 120
    ? `${fmt(seconds)} s`
    : seconds < 7_200
      ? `${fmt(seconds / 60)} min`
      : `${(seconds / 3_600).toFixed(1)} h`;

/** One view's table: per N and C, the demand, the hottest spot's load, what binds, the outcome. */
export function scaleTable(layout: Layout = ONE_KEY, options: ModelOptions = {}): string {
  const header = [
    '| N | C | demand (steps/s) | hottest (WCU/s of 1,000) | binds first | steps/s | run time | notes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = scaleReports(layout, options).map((r) => {
    const hottest = r.pressures.reduce((a, b) => (b.unitsPerSecond > a.unitsPerSecond ? b : a));
    return `| ${fmt(r.workload.steps)} | ${fmt(r.workload.concurrency)} | ${fmt(r.demandStepsPerSecond)} | ${fmt(hottest.unitsPerSecond)}: ${hottest.what} | ${r.binding ?? 'the workers'} | ${fmt(r.stepsPerSecond)} | ${duration(r.runSeconds)} | ${r.notes.join('; ') || '-'} |`;
  });
  return [...header, ...rows].join('\n');
}

/** Every view, under its heading. */
export function scaleTables(): string {
  return VIEWS.map((v) => `### ${v.title}\n\n${scaleTable(v.layout, v.options)}`).join('\n\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = join(import.meta.dirname, 'results');
  mkdirSync(results, { recursive: true });
  const reports = VIEWS.map((v) => ({ view: v.title, reports: scaleReports(v.layout, v.options) }));
  writeFileSync(join(results, 'scale-model.json'), `${JSON.stringify(reports, null, 2)}\n`);
  console.log(scaleTables());
}
