export const RunStatus = {
  /** Over its job's `maxConcurrentRuns`: waits for a run slot before anything is written or sent. */
  QUEUED: 'QUEUED',
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  CANCELING: 'CANCELING',
  CANCELED: 'CANCELED',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set([
  RunStatus.SUCCEEDED,
  RunStatus.FAILED,
  RunStatus.CANCELED,
]);

export const StepStatus = {
  /** Upstream steps not yet all succeeded. */
  WAITING: 'WAITING',
  /** A message for the current attempt is on a step queue. */
  QUEUED: 'QUEUED',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Will never run: an upstream step failed or was skipped. */
  SKIPPED: 'SKIPPED',
  /** Stopped or never started because the run was canceled (`canceledBecause` says why). */
  CANCELED: 'CANCELED',
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export const TERMINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set([
  StepStatus.SUCCEEDED,
  StepStatus.FAILED,
  StepStatus.SKIPPED,
  StepStatus.CANCELED,
]);
