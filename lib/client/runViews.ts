import type { SerializedError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import type { JobPlan } from '../job/dag.ts';
import type { RunStatus } from '../status.ts';
import type { RunEvent, RunRecord, StepRecord } from '../store/types.ts';

/** One attempt of a step, as the timeline and the step panel show it (from the run's events). */
export interface AttemptView {
  readonly step: string;
  readonly attempt: number;
  /** When it was ready to run: the run's start or its upstream's end, or the retry that queued it. */
  readonly queuedAt?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** SUCCEEDED, FAILED, RETRIED, PROMOTED (the next attempt runs on ECS), CANCELED, LOST (its worker or task was lost), or RUNNING. */
  readonly outcome: string;
  readonly error?: SerializedError;
  /** Ran as an ECS task. */
  readonly ecs: boolean;
}

const OUTCOMES: Partial<Record<EventType, string>> = {
  [EventType.STEP_SUCCESS]: 'SUCCEEDED',
  [EventType.STEP_FAILURE]: 'FAILED',
  [EventType.STEP_RETRY]: 'RETRIED',
  [EventType.STEP_PROMOTED]: 'PROMOTED',
  [EventType.STEP_CANCELED]: 'CANCELED',
  [EventType.STEP_WORKER_LOST]: 'LOST',
  [EventType.STEP_TASK_LOST]: 'LOST',
};

/**
 * The attempts the events tell of, in the order they started. Queued time comes first
 * (from when the attempt could run to its start), then running time; a retry is an
 * attempt of its own. `plan` gives each first attempt's upstream steps; `steps` marks
 * the attempts that ran on ECS.
 */
export function attemptsOf(
  run: RunRecord,
  events: readonly RunEvent[],
  plan: JobPlan | undefined,
  steps: ReadonlyMap<string, StepRecord>,
): AttemptView[] {
  const byKey = new Map<string, { -readonly [K in keyof AttemptView]: AttemptView[K] }>();
  const ends = new Map<string, string>();
  const retriedAt = new Map<string, string>();
  const ecsFrom = new Map<string, number>();
  for (const event of events) {
    if (!event.step) continue;
    if (event.type === EventType.STEP_PROMOTED && event.attempt !== undefined) {
      ecsFrom.set(event.step, event.attempt + 1);
    }
    if (event.attempt === undefined) continue;
    const id = `${event.step}\u0000${event.attempt}`;
    if (event.type === EventType.STEP_START) {
      const step = steps.get(event.step);
      const ecs =
        (step?.promotedAt !== undefined && event.attempt >= step.promotedAt) ||
        (step?.taskArn !== undefined && step.attempt === event.attempt) ||
        event.attempt >= (ecsFrom.get(event.step) ?? Number.POSITIVE_INFINITY);
      byKey.set(id, {
        step: event.step,
        attempt: event.attempt,
        startedAt: event.at,
        outcome: 'RUNNING',
        ecs,
        ...(retriedAt.has(event.step) ? { queuedAt: retriedAt.get(event.step) } : {}),
      });
      continue;
    }
    const outcome = OUTCOMES[event.type];
    const attempt = byKey.get(id);
    if (!outcome || !attempt) continue;
    attempt.outcome = outcome;
    attempt.endedAt = event.at;
    const error = event.data?.error as SerializedError | undefined;
    if (error) attempt.error = error;
    if (outcome === 'RETRIED' || outcome === 'PROMOTED') retriedAt.set(event.step, event.at);
    if (outcome === 'SUCCEEDED') ends.set(event.step, event.at);
  }
  const attempts = [...byKey.values()];
  for (const attempt of attempts) {
    if (attempt.queuedAt || attempt.attempt !== 1) continue;
    // A first attempt could run once its last upstream step succeeded (the run's start for a root).
    const ups = plan?.upstream.get(attempt.step) ?? [];
    // ISO times of one clock sort as text: the latest is the greatest.
    const readyAt = [run.createdAt, ...ups.map((up) => ends.get(up) ?? '')].sort().at(-1) ?? run.createdAt;
    // Never after its start (clocks of different workers).
    const startedAt = attempt.startedAt ?? readyAt;
    attempt.queuedAt = readyAt.localeCompare(startedAt) < 0 ? readyAt : startedAt;
  }
  return attempts.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
}

/** A page of runs across jobs, newest first, and the cursor of the next page. */
export interface RunsPage {
  readonly runs: readonly RunRecord[];
  readonly cursor?: string;
}

/** Where each job's listing stands: the last run id shown, or null when it has no more runs. */
type JobCursors = Record<string, string | null>;

export function encodeCursor(cursors: JobCursors): string {
  return Buffer.from(JSON.stringify(cursors)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): JobCursors {
  if (!cursor) return {};
  const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  return typeof parsed === 'object' && parsed !== null ? (parsed as JobCursors) : {};
}

/**
 * Merge one page of each job's runs (each newest first, from the byJob index) into one
 * page newest first. Run ids sort by time, so the merge is by run id; each job's cursor
 * moves past the runs this page shows, and a job whose page was not full and was shown
 * whole has no more. `status` filters the page after the reads (a filtered page may be
 * short; the cursor still moves on).
 */
export function mergeRunPages(
  pages: ReadonlyMap<string, readonly RunRecord[]>,
  previous: JobCursors,
  limit: number,
  status?: RunStatus,
): RunsPage {
  const merged = [...pages.values()]
    .flat()
    .sort((a, b) => b.runId.localeCompare(a.runId))
    .slice(0, limit);
  const next: JobCursors = { ...previous };
  for (const [job, runs] of pages) {
    const shown = merged.filter((run) => run.job === job);
    const last = shown.at(-1);
    if (last) next[job] = last.runId;
    if (runs.length < limit && shown.length === runs.length) next[job] = null;
  }
  const runs = status ? merged.filter((run) => run.status === status) : merged;
  const more = Object.values(next).some((value) => value !== null);
  return more ? { runs, cursor: encodeCursor(next) } : { runs };
}
