import { InvalidInputError } from '../../lib/errors.ts';
import {
  ALL_FAULTS,
  type FaultRates,
  NO_FAULTS,
  runSimulation,
  type SimulationReport,
} from '../../local/simulation/harness.ts';
import { DEFAULT_KEYED_LIMITS } from '../../local/simulation/keyedLimits.ts';
import { bold, green, red, seconds, table } from '../format.ts';
import { print } from './run.ts';

export interface SimulateOptions {
  readonly runs?: string;
  readonly minSteps?: string;
  readonly maxSteps?: string;
  readonly seed?: string;
  readonly faults?: string;
  readonly parallel?: string;
  readonly concurrency?: string;
  readonly visibility?: string;
  readonly timeout?: string;
  readonly mapRate?: string;
  readonly maxItems?: string;
  readonly limitRate?: string;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/**
 * `lambdag simulate`: random DAGs on a fresh embedded stack under injected faults,
 * then the exactly-once audit. Exit code 0 only when the audit is clean.
 */
export async function simulateCommand(options: SimulateOptions): Promise<number> {
  const runs = integer('--runs', options.runs ?? '20', 1);
  const minSteps = integer('--min-steps', options.minSteps ?? '10', 1);
  const maxSteps = integer('--max-steps', options.maxSteps ?? '50', minSteps);
  const faults = parseFaults(options.faults ?? 'all');
  const live = !options.json && process.stderr.isTTY;
  const report = await runSimulation({
    runs,
    minSteps,
    maxSteps,
    seed: integer('--seed', options.seed ?? String(Date.now() % 100_000), 0),
    faults,
    parallelRuns: integer('--parallel', options.parallel ?? '10', 1),
    ...(options.concurrency ? { concurrency: integer('--concurrency', options.concurrency, 1) } : {}),
    visibilityTimeoutSeconds: integer('--visibility', options.visibility ?? '2', 1),
    timeoutMs: integer('--timeout', options.timeout ?? '600', 1) * 1000,
    mapRate: rate('--map-rate', options.mapRate ?? '0.1'),
    maxItems: integer('--max-items', options.maxItems ?? '20', 0),
    keyedLimits: { ...DEFAULT_KEYED_LIMITS, rate: rate('--limit-rate', options.limitRate ?? '0.1') },
    ...(options.verbose ? { logLevel: 'WARN' as const } : {}),
    onProgress: (done, total) => {
      if (!options.json)
        process.stderr.write(`${live ? '\r\u001b[2K' : ''}runs ended ${done}/${total}${live ? '' : '\n'}`);
    },
  });
  if (live) process.stderr.write('\n');
  if (options.json) print(report);
  else process.stdout.write(`${describeReport(report)}\n`);
  return report.ok ? 0 : 1;
}

/** `all`, `none`, or `kind=rate,...` over none (e.g. `duplicateSends=0.5,throttling=0.02`). */
export function parseFaults(text: string): FaultRates {
  if (text === 'all') return ALL_FAULTS;
  if (text === 'none') return NO_FAULTS;
  const faults: Record<string, number> = { ...NO_FAULTS };
  for (const part of text.split(',')) {
    const [kind = '', rate = ''] = part.split('=');
    if (!(kind in NO_FAULTS)) {
      throw new InvalidInputError(
        `--faults: unknown fault '${kind}'; known: ${Object.keys(NO_FAULTS).join(', ')} (or all, none)`,
      );
    }
    const value = Number(rate);
    if (rate === '' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new InvalidInputError(`--faults: ${kind} needs a rate from 0 to 1, got '${rate}'`);
    }
    faults[kind] = value;
  }
  return faults as unknown as FaultRates;
}

function rate(flag: string, text: string): number {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidInputError(`${flag}: expected a rate from 0 to 1, got '${text}'`);
  }
  return value;
}

function integer(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidInputError(`${flag}: expected a whole number of at least ${min}, got '${text}'`);
  }
  return value;
}

function describeReport(r: SimulationReport): string {
  const f = r.faultsInjected;
  const throttled = Object.entries(f.throttling)
    .map(([service, n]) => `${service} ${n}`)
    .join(', ');
  const check = (n: number) => (n === 0 ? green('0') : red(String(n)));
  return [
    `${r.ok ? green('AUDIT PASSED') : red('AUDIT FAILED')} seed ${r.seed}: ${r.runs} runs, ${r.steps} steps (${r.maps.stages} maps, ${r.maps.items} items) in ${seconds(r.durationMs)}`,
    `run statuses: ${Object.entries(r.runStatuses)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')}`,
    '',
    bold('faults injected'),
    table([
      ['duplicate sends', String(f.duplicateSends)],
      ['crash before record', String(f.crashBeforeRecord)],
      ['crash after record', String(f.crashAfterRecord)],
      ['crash before delete', String(f.crashBeforeDelete)],
      ['throttled AWS calls', throttled || '0'],
      ['step exceptions', String(f.stepErrors)],
      ['steps past visibility timeout', String(f.slowSteps)],
    ]),
    '',
    bold('what the engine did'),
    table([
      ['step body executions', String(r.executions.bodies)],
      ['retries (attempt > 1)', String(r.executions.retries)],
      ['attempts re-executed after a crash', String(r.executions.reExecutedAttempts)],
      ['messages received', String(r.redeliveries.received)],
      ['batch items reported failed', String(r.redeliveries.reportedFailures)],
    ]),
    '',
    bold('audit'),
    table([
      ['stuck runs', check(r.stuckRuns.length)],
      ['lost steps', check(r.lostSteps.length)],
      ['live dead letters', check(r.deadLetters.reduce((n, q) => n + q.live.length, 0))],
      [
        'stale dead letters (copies of finished attempts)',
        String(r.deadLetters.reduce((n, q) => n + q.stale, 0)),
      ],
      ['executions after success', check(r.executionsAfterSuccess.length)],
      ['keys over their concurrency limit', check(r.keyedLimits.overLimit.length)],
      ['concurrency leases left held', check(r.keyedLimits.leasesLeft.length)],
      ['results recorded twice', check(r.doubleRecords.length)],
      ['wrong results', check(r.wrongResults.length)],
    ]),
    ...r.deadLetters.flatMap((q) => q.live.map((what) => `live dead letter in ${q.queue}: ${what}`)),
    ...r.stuckRuns.map(
      (s) =>
        `stuck ${s.runId}: ${s.status} ${s.counts.succeeded}/${s.counts.steps} succeeded; ` +
        `execution ${s.execution?.status ?? 'unknown'}${s.execution?.error ? ` (${s.execution.error})` : ''}; ` +
        `unfinished ${s.unfinishedSteps.map((u) => `${u.step}:${u.status}#${u.attempt}`).join(' ')}`,
    ),
  ].join('\n');
}
