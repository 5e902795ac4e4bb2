import { defineJob, NonRetryableError } from '../../lib/index.ts';

/**
 * A step that throws: `load` -> `explode` -> `report`, beside an independent `audit`.
 * `explode` fails (after one retry), `report` is skipped, `audit` still runs, and the
 * run ends FAILED naming `explode` and its error.
 */
export const failing = defineJob(
  'failing',
  { description: 'A step that throws; its downstream is skipped.' },
  (job) => {
    const load = job.step('load', () => ({ rows: 3 }));
    const explode = job.step(
      'explode',
      { dependsOn: { load }, retries: 1, backoff: { baseSeconds: 0 } },
      ({ load }, ctx) => {
        // Kept per attempt: `lambdag logs RUN --step explode` and the UI's step panel show it.
        ctx.log(`writing ${load.rows} rows to the warehouse`, { rows: load.rows });
        if (load.rows > 0) throw new Error(`cannot process ${load.rows} rows: the warehouse is read-only`);
        return load.rows;
      },
    );
    job.step('report', { dependsOn: { explode } }, ({ explode }) => `processed ${explode}`);
    job.step('audit', { dependsOn: { load } }, ({ load }) => ({ audited: load.rows }));
  },
);

/** Same shape, but the error is marked non-retryable: it fails on the first attempt. */
export const failingFast = defineJob('failing-fast', (job) => {
  job.step('explode', () => {
    throw new NonRetryableError('bad credentials; retrying will not help');
  });
});
