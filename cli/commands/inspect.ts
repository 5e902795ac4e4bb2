import { LogFollower } from '../../lib/client/logFollower.ts';
import { colorStatus, dim, eventLine, runSummary, stepLogText, stepsTable, table } from '../format.ts';
import { isRoutineItemEvent } from '../mapRows.ts';
import { openTarget, type TargetOptions } from '../target.ts';
import { jsonOutcome, print } from './run.ts';

export async function statusCommand(
  runId: string,
  options: TargetOptions & { json?: boolean; items?: boolean },
): Promise<number> {
  const target = await openTarget(options);
  try {
    // Steps in plan (topological) order, as the UI lists them.
    const { run, steps } = await target.client.reader.runView(runId);
    if (options.json) {
      print({ ...jsonOutcome(run), steps });
    } else {
      process.stdout.write(`${runSummary(run)}\n${stepsTable(steps, { items: options.items === true })}\n`);
    }
    return 0;
  } finally {
    await target.close();
  }
}

export async function logsCommand(
  runId: string,
  options: TargetOptions & { follow?: boolean; step?: string; items?: boolean },
): Promise<number> {
  const target = await openTarget(options);
  try {
    await target.client.getRun(runId);
    let cursor: string | undefined;
    const log = new LogFollower();
    for (;;) {
      const page = await target.client.listEvents(runId, cursor);
      log.saw(page.events);
      for (const event of page.events) {
        const shown =
          (!options.step || event.step === options.step) && (options.items || !isRoutineItemEvent(event));
        if (shown) process.stdout.write(`${eventLine(event)}\n`);
      }
      cursor = page.cursor ?? cursor;
      const run = options.follow ? await target.client.getRun(runId) : undefined;
      if (!run || (page.events.length === 0 && log.done(run.status))) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    // Then what the steps wrote with ctx.log, attempt by attempt (only attempts that logged).
    const { logs, more } = await target.client.reader.stepLogs(runId, options.step);
    for (const doc of logs) process.stdout.write(stepLogText(doc));
    if (more) process.stdout.write(`${dim('… more step logs: show one step with --step')}\n`);
    return 0;
  } finally {
    await target.close();
  }
}

export async function runsCommand(
  options: TargetOptions & { job?: string; limit?: string; json?: boolean },
): Promise<number> {
  const target = await openTarget(options);
  try {
    const limit = Number(options.limit ?? 20);
    const jobs = options.job ? [options.job] : target.deps.registry.names();
    if (options.job) target.deps.registry.get(options.job);
    const runs = (await Promise.all(jobs.map((job) => target.client.listRuns(job, limit))))
      .flat()
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .slice(0, limit);
    if (options.json) {
      print(runs.map((run) => jsonOutcome(run)));
    } else if (runs.length === 0) {
      process.stdout.write('no runs yet\n');
    } else {
      const rows = [['run', 'job', 'status', 'steps', 'failed', 'created']];
      for (const run of runs) {
        rows.push([
          run.runId,
          run.job,
          colorStatus(run.status),
          `${run.succeeded}/${run.stepCount}`,
          String(run.failed),
          run.createdAt,
        ]);
      }
      process.stdout.write(`${table(rows)}\n`);
    }
    return 0;
  } finally {
    await target.close();
  }
}
