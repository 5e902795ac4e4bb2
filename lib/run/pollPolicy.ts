import { z } from 'zod';
import { RunStatus } from '../status.ts';

/**
 * What the run state machine carries between StartRun, PollRun and FinalizeRun.
 * Small and documented: anyone can read it in the Step Functions console.
 */
export const PollStateSchema = z.object({
  runId: z.string(),
  status: z.enum(RunStatus),
  /** Seconds the Wait state waits before the next poll. */
  waitSeconds: z.number().int().min(0),
  /** succeeded + failed + skipped at the last poll. */
  progress: z.number().int().min(0),
  /** Seconds since progress last changed. */
  idleSeconds: z.number().min(0),
  ticks: z.number().int().min(0),
  /** Which execution of the run this is: 0 first, then one more per continue-as-new. */
  generation: z.number().int().min(0).optional(),
  /** Set by PollRun when this execution should hand the run over to a new one. */
  handOver: z.boolean().optional(),
  /** With `handOver`: the name of the execution that takes the run over (lib/run/continueAsNew.ts). */
  nextExecutionName: z.string().optional(),
  /** When this state was made (epoch ms): the next poll measures the run's pace from it. */
  polledAt: z.number().int().optional(),
  /** When the run's slot lease ends (epoch ms), for a run under maxConcurrentRuns: PollRun renews it. */
  runSlotUntil: z.number().int().optional(),
});
export type PollState = z.infer<typeof PollStateSchema>;

export const MIN_WAIT_SECONDS = 1;
export const MAX_WAIT_SECONDS = 30;

/** How fast a run is finishing steps, as the last poll interval saw it. */
export interface Pace {
  /** Steps not yet finished. */
  readonly remaining: number;
  /** Steps finished per second over the last interval (0: none). */
  readonly perSecond: number;
}

/**
 * The next Wait: it doubles each tick from MIN to MAX whatever the run does, so a run costs
 * about log2(MAX) + duration / MAX polls — a function of how long it runs, not of how many
 * steps it has — but it never waits past the moment the run should be done at its current
 * pace, so the end of a run is seen within about a second of it. (Resetting the wait on
 * every progress, as before, polled a busy run every second: 3 transitions a second.)
 */
export function nextWaitSeconds(previous: number, pace?: Pace): number {
  const grown = Math.min(MAX_WAIT_SECONDS, Math.max(MIN_WAIT_SECONDS, previous * 2));
  if (!pace || pace.perSecond <= 0) return grown;
  const eta = Math.ceil(pace.remaining / pace.perSecond);
  return Math.max(MIN_WAIT_SECONDS, Math.min(grown, eta));
}

/** The run's pace between two polls (undefined when the first one's time is unknown). */
export function paceOf(
  before: { progress: number; polledAt?: number | undefined },
  now: { progress: number; stepCount: number; at: number },
): Pace | undefined {
  if (before.polledAt === undefined || now.at <= before.polledAt) return undefined;
  const seconds = (now.at - before.polledAt) / 1000;
  return {
    remaining: Math.max(0, now.stepCount - now.progress),
    perSecond: Math.max(0, now.progress - before.progress) / seconds,
  };
}
