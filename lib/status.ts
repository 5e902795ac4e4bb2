export const RunStatus = {
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
} as const;
export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

export const EventType = {
  RUN_START: 'RUN_START',
  RUN_SUCCESS: 'RUN_SUCCESS',
  RUN_FAILURE: 'RUN_FAILURE',
  STEP_START: 'STEP_START',
  STEP_SUCCESS: 'STEP_SUCCESS',
  STEP_FAILURE: 'STEP_FAILURE',
  STEP_RETRY: 'STEP_RETRY',
  STEP_SKIPPED: 'STEP_SKIPPED',
  RUN_RECONCILED: 'RUN_RECONCILED',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
