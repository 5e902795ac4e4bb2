import type { StepLogDocument } from '../lib/step/stepLog.ts';
import type { RunEvent, RunRecord, StepRecord } from '../lib/store/types.ts';
import { itemCountsByMap, itemCountsLine, visibleSteps } from './mapRows.ts';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
export const green = paint(32);
export const red = paint(31);
export const yellow = paint(33);
export const dim = paint(2);
export const bold = paint(1);

export function colorStatus(status: string): string {
  if (status === 'SUCCEEDED') return green(status);
  if (status === 'FAILED' || status === 'CANCELED') return red(status);
  if (status === 'SKIPPED' || status === 'CANCELING') return yellow(status);
  return status;
}

export function progressLine(run: RunRecord, elapsedMs: number): string {
  if (run.status === 'QUEUED')
    return `  queued: waiting for a slot of ${run.runLimit?.key ?? 'its job'} · ${seconds(elapsedMs)}`;
  const done = run.succeeded + run.failed + run.skipped;
  const width = 20;
  const filled = run.stepCount ? Math.round((done / run.stepCount) * width) : 0;
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const failures = run.failed ? red(`${run.failed} failed`) : `${run.failed} failed`;
  return `  ${bar} ${done}/${run.stepCount} steps · ${failures} · ${run.skipped} skipped · ${seconds(elapsedMs)}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
const visibleLength = (text: string) => text.replace(/\u001b\[\d+m/g, '').length;

/** The steps as a table; a map step is one row counting its items, which show only with `items`. */
export function stepsTable(steps: readonly StepRecord[], options: { items?: boolean } = {}): string {
  const rows = [['step', 'status', 'attempt', 'duration', 'detail'].map(dim)];
  const counts = itemCountsByMap(steps);
  for (const step of visibleSteps(steps, options.items === true)) {
    const items = step.map ? itemCountsLine(step.map.items, counts.get(step.key) ?? {}) : undefined;
    const detail = stepDetail(step);
    rows.push([
      step.key,
      colorStatus(step.status),
      String(step.attempt),
      step.durationMs === undefined ? '' : `${step.durationMs}ms`,
      items && detail ? `${items} · ${detail}` : (items ?? detail),
    ]);
  }
  return table(rows);
}

function stepDetail(step: StepRecord): string {
  if (step.status === 'FAILED' && step.error) return `${step.error.name}: ${step.error.message}`;
  if (step.status === 'SKIPPED') return step.skippedBecause ?? '';
  if (step.status === 'CANCELED') return step.canceledBecause ?? '';
  if (step.reusedFrom) return `reused from ${step.reusedFrom}`;
  if (step.taskArn) {
    const promoted = step.promotedAt ? `promoted at attempt ${step.promotedAt}, ` : '';
    return `${promoted}ECS task ${step.taskArn.split('/').at(-1)}`;
  }
  return '';
}

export function runSummary(run: RunRecord): string {
  const lines = [
    `${bold(run.runId)}  job ${run.job}  ${colorStatus(run.status)}`,
    `  steps: ${run.stepCount} · succeeded ${run.succeeded}${run.reused ? ` (${run.reused} reused)` : ''} · failed ${run.failed} · skipped ${run.skipped}${run.canceled ? ` · canceled ${run.canceled}` : ''}`,
    `  created ${run.createdAt}${run.finishedAt ? ` · finished ${run.finishedAt}` : ''}`,
  ];
  if (run.runLimit) {
    const { key, limit, queuedSince } = run.runLimit;
    const started = run.startedAt ? ` · started ${run.startedAt}` : ' · waiting for a slot';
    lines.push(
      `  maxConcurrentRuns: ${key} (limit ${limit}) · queued ${new Date(queuedSince).toISOString()}${started}`,
    );
  }
  if (run.parentRunId) lines.push(`  rerun of ${run.parentRunId}`);
  if (run.cancelRequestedAt)
    lines.push(
      yellow(`  cancel requested ${run.cancelRequestedAt}${run.cancelReason ? `: ${run.cancelReason}` : ''}`),
    );
  if (run.error)
    lines.push(
      red(`  error: step '${run.error.step ?? '?'}' failed with ${run.error.name}: ${run.error.message}`),
    );
  if (run.skippedSteps?.length) lines.push(yellow(`  skipped: ${run.skippedSteps.join(', ')}`));
  if (run.result !== undefined) lines.push(`  result: ${JSON.stringify(run.result)}`);
  else if (run.resultKey) lines.push(`  result: s3 ${run.resultKey}`);
  return lines.join('\n');
}

export function eventLine(event: RunEvent): string {
  const where = event.step ? ` ${event.step}${event.attempt ? `#${event.attempt}` : ''}` : '';
  const type = event.type.includes('FAILURE')
    ? red(event.type)
    : event.type.includes('SUCCESS')
      ? green(event.type)
      : event.type;
  return `${dim(event.at)} ${type}${where}${event.message ? `  ${event.message}` : ''}`;
}

/** One step attempt's log lines (what its body wrote with ctx.log) under a header naming it. */
export function stepLogText(doc: StepLogDocument): string {
  const lines = doc.lines.map((line) => {
    const fields = line.fields ? ` ${dim(JSON.stringify(line.fields))}` : '';
    return `  ${dim(line.at.slice(11, 23))} ${line.message}${fields}\n`;
  });
  const dropped = doc.dropped ? `  ${dim(`… ${doc.dropped} more line(s) dropped`)}\n` : '';
  return `${bold(`log of ${doc.step} attempt ${doc.attempt}`)}\n${lines.join('')}${dropped}`;
}
