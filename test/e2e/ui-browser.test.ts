import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startUiServer, type UiServer } from '../../cli/ui/server.ts';
import { newRunId } from '../../lib/run/ids.ts';
import { RunStatus, StepStatus } from '../../lib/status.ts';
import { runToEnd, stepsOf, until, useStack } from '../support/stack.ts';

/** Debian's chromium (`.ci/run` installs it); LAMBDAG_CHROMIUM points elsewhere. */
const CHROMIUM = process.env.LAMBDAG_CHROMIUM ?? '/usr/bin/chromium';
/** Set to save the main views as docs/images/*.png (the README shows them). */
const SCREENSHOTS = process.env.LAMBDAG_UI_SCREENSHOTS
  ? join(import.meta.dirname, '../../docs/images')
  : undefined;

const handle = useStack();
let server: UiServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium`);
  server = await startUiServer(handle, { pollMs: 200 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});
beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});
afterEach(async () => {
  await page.close();
});

const url = (path: string) => new URL(path, server.url).toString();
const shot = async (name: string, fullPage = true) => {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
};
/** Set in the page once: still there at the end means the page never reloaded. */
const markPage = () => page.evaluate(() => Object.assign(globalThis, { __lambdagMark: true }));
const stillSamePage = () => page.evaluate(() => (globalThis as { __lambdagMark?: boolean }).__lambdagMark);

describe('the UI in a browser', () => {
  it('lists a finished diamond run, and draws its graph: 4 nodes and 4 edges, all succeeded', async () => {
    const run = await runToEnd(handle, 'diamond', { x: 1 });
    await page.goto(url('/'));
    const row = page.locator(`[data-testid=run-row][data-run="${run.runId}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe(RunStatus.SUCCEEDED);

    await row.getByRole('link').click();
    await page.locator('.node').nth(3).waitFor();
    expect(await page.locator('.node').count()).toBe(4);
    expect(await page.locator('.edge').count()).toBe(4);
    const statuses = await page
      .locator('.node')
      .evaluateAll((nodes) => nodes.map((n) => [n.getAttribute('data-node'), n.getAttribute('data-status')]));
    expect(Object.fromEntries(statuses)).toEqual({
      a: 'SUCCEEDED',
      b: 'SUCCEEDED',
      c: 'SUCCEEDED',
      d: 'SUCCEEDED',
    });
    await page.locator('[data-node=d]').click();
    await expect.poll(() => page.locator('[data-testid=step-output]').textContent()).toContain('"sum": 10');
    await page.locator('[data-testid=timeline] .bar-row').nth(3).waitFor();
    await shot('run');
  });

  it('shows a failing run’s failed step with its error, and its skipped downstream', async () => {
    const run = await runToEnd(handle, 'failing');
    await page.goto(url(`/runs/${run.runId}`));
    await page.locator('[data-node=explode]').waitFor();
    expect(await page.locator('[data-node=explode]').getAttribute('data-status')).toBe(StepStatus.FAILED);
    expect(await page.locator('[data-node=report]').getAttribute('data-status')).toBe(StepStatus.SKIPPED);
    expect(await page.locator('[data-node=audit]').getAttribute('data-status')).toBe(StepStatus.SUCCEEDED);
    expect(await page.locator('[data-testid=run-error]').textContent()).toContain(
      'the warehouse is read-only',
    );

    await page.locator('[data-node=explode]').click();
    await page.locator('[data-testid=step-error]').nth(1).waitFor();
    expect(await page.locator('[data-testid=step-error]').nth(1).textContent()).toContain(
      'cannot process 3 rows: the warehouse is read-only',
    );
    expect(
      await page.locator('.attempt').evaluateAll((a) => a.map((e) => e.getAttribute('data-outcome'))),
    ).toEqual(['RETRIED', 'FAILED']);
    // What the step wrote with ctx.log, under each of its attempts.
    expect(await page.locator('[data-testid=step-log]').allTextContents()).toEqual([
      expect.stringContaining('writing 3 rows to the warehouse {"rows":3}'),
      expect.stringContaining('writing 3 rows to the warehouse {"rows":3}'),
    ]);
    await shot('failed-step');
    await page.locator('[data-node=report]').click();
    await page.locator('[data-testid=skipped-because]').waitFor();
    expect(await page.locator('[data-testid=skipped-because]').textContent()).toContain('explode');

    // Re-execute chosen steps: an unknown one is named, and nothing starts; a known one starts a rerun.
    await page.locator('[data-testid=rerun-steps]').click();
    await page.locator('[data-testid=rerun-steps-input]').fill('nope');
    await page.locator('[data-testid=rerun-steps-confirm]').click();
    await expect
      .poll(() => page.locator('[data-testid=rerun-steps-dialog]').textContent())
      .toContain("no step 'nope'");
    await page.locator('[data-testid=rerun-steps-input]').fill('audit');
    await page.locator('[data-testid=rerun-steps-confirm]').click();
    await page.waitForURL((u) => /\/runs\/[0-9A-Z]+$/.test(u.pathname) && !u.pathname.endsWith(run.runId));
    const rerunId = page.url().split('/').at(-1) as string;
    expect((await handle.client.waitForRun(rerunId)).parentRunId).toBe(run.runId);
  });

  it('starts a run from the UI (field errors first) and follows it to SUCCEEDED without a reload', async () => {
    await page.goto(url('/'));
    await markPage();
    await page.locator('[data-testid=start-run]').click();
    await page.locator('[data-testid=launch-job]').selectOption('diamond');
    await page.locator('[data-testid=launch-input]').fill('{"x": "two"}');
    await page.locator('[data-testid=launch-confirm]').click();
    await page.locator('[data-testid=launch-error]').waitFor();
    expect(await page.locator('[data-testid=launch-error]').textContent()).toContain('input.x');
    await shot('launch');

    await page.locator('[data-testid=launch-input]').fill('{"x": 2}');
    await page.locator('[data-testid=launch-confirm]').click();
    await page.waitForURL(/\/runs\/[0-9A-Z]+$/);
    const runId = page.url().split('/').at(-1) as string;
    await expect
      .poll(() => page.locator('[data-testid=run-status]').textContent(), { timeout: 60_000 })
      .toBe(RunStatus.SUCCEEDED);
    expect(await stillSamePage()).toBe(true);
    expect((await handle.client.getRun(runId)).status).toBe(RunStatus.SUCCEEDED);
    // The graph and the log followed the run as it went.
    await expect
      .poll(() => page.locator('[data-node=d]').getAttribute('data-status'))
      .toBe(StepStatus.SUCCEEDED);
    await expect.poll(() => page.locator('[data-testid=events] tr[data-type=RUN_SUCCESS]').count()).toBe(1);
  });

  it('cancels a run from the UI after asking', async () => {
    const { runId } = await handle.client.startRun({
      job: 'cancelable',
      input: { token: `ui-${newRunId()}` },
    });
    await until('hold to run', async () =>
      (await stepsOf(handle, runId)).get('hold')?.status === StepStatus.RUNNING ? true : undefined,
    );
    await page.goto(url(`/runs/${runId}`));
    await markPage();
    await page.locator('[data-testid=cancel-run]').click();
    expect(await page.locator('[data-testid=confirm]').textContent()).toContain('running steps are aborted');
    await page.locator('[data-testid=confirm-action]').click();
    await expect
      .poll(() => page.locator('[data-testid=run-status]').textContent(), { timeout: 60_000 })
      .toBe(RunStatus.CANCELED);
    expect(await stillSamePage()).toBe(true);
    expect((await handle.client.getRun(runId)).status).toBe(RunStatus.CANCELED);
  });

  it('shows the step queues with their dead-letter queues', async () => {
    if (SCREENSHOTS) {
      // The runs list, with the runs of the tests before.
      await page.goto(url('/'));
      await page.locator('[data-testid=run-row]').nth(4).waitFor();
      await shot('runs');
    }
    await page.goto(url('/queues'));
    await page.locator('[data-queue=default]').waitFor();
    expect(await page.locator('[data-queue=default] td').first().textContent()).toBe('default');
    await shot('queues');
  });

  it('draws a 1,000-step fan-out collapsed into one node, in a bounded number of requests', async () => {
    const run = await runToEnd(handle, 'fanout', { n: 1_000 });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await page.goto(url(`/runs/${run.runId}`));
    await page.locator('[data-testid=timeline]').waitFor();
    await page.locator('[data-testid=events] tr').first().waitFor();
    expect(await page.locator('.node').count()).toBe(3);
    expect(await page.locator('[data-node="square-[0..999]"]').getAttribute('data-size')).toBe('1000');
    await page.waitForLoadState('networkidle');
    expect(requests.sort()).toEqual(
      [
        `/runs/${run.runId}`,
        '/assets/app.js',
        '/assets/app.css',
        `/api/runs/${run.runId}`,
        `/api/runs/${run.runId}/timeline`,
        `/api/runs/${run.runId}/events`,
      ].sort(),
    );
    await page.locator('[data-node="square-[0..999]"]').click();
    await page.locator('[data-testid=group-panel] ul.members li').nth(49).waitFor();
    await shot('fanout', false);
  });
});
