import { z } from 'zod';
import { RunStatus } from './status.ts';

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
});
export type PollState = z.infer<typeof PollStateSchema>;

export const MIN_WAIT_SECONDS = 1;
export const MAX_WAIT_SECONDS = 30;

/** Wait grows while nothing changes (fewer transitions, lower cost) and resets on progress. */
export function nextWaitSeconds(previous: number, progressed: boolean): number {
  if (progressed) return MIN_WAIT_SECONDS;
  return Math.min(MAX_WAIT_SECONDS, Math.max(MIN_WAIT_SECONDS, previous * 2));
}
