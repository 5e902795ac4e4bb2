/** The kinds of a run's events (the run store's event log; `lambdag logs`, the UI). */
export const EventType = {
  /** The run is over its job's `maxConcurrentRuns` and waits QUEUED for a slot (RUN_START when it starts). */
  RUN_QUEUED: 'RUN_QUEUED',
  RUN_START: 'RUN_START',
  RUN_SUCCESS: 'RUN_SUCCESS',
  RUN_FAILURE: 'RUN_FAILURE',
  STEP_START: 'STEP_START',
  STEP_SUCCESS: 'STEP_SUCCESS',
  STEP_FAILURE: 'STEP_FAILURE',
  STEP_RETRY: 'STEP_RETRY',
  STEP_SKIPPED: 'STEP_SKIPPED',
  RUN_RECONCILED: 'RUN_RECONCILED',
  /** The run's polling moved to a new execution of the state machine (continue-as-new). */
  RUN_CONTINUED: 'RUN_CONTINUED',
  /** `lambdag cancel` / `cancelRun`: the run is CANCELING. */
  RUN_CANCEL_REQUESTED: 'RUN_CANCEL_REQUESTED',
  /** FinalizeRun ended a canceled run. */
  RUN_CANCELED: 'RUN_CANCELED',
  /** A step was stopped (running) or will never start (waiting, queued) because the run was canceled. */
  STEP_CANCELED: 'STEP_CANCELED',
  /** A worker died holding a step attempt (Lambda timeout, out of memory, a crash); another claimed it. */
  STEP_WORKER_LOST: 'STEP_WORKER_LOST',
  /** A step's own progress report (`ctx.progress`), at most one a second per attempt. */
  STEP_PROGRESS: 'STEP_PROGRESS',
  /** A Lambda step ran out of Lambda's time (or its worker died) and moves to ECS. */
  STEP_PROMOTED: 'STEP_PROMOTED',
  /** PollRun found a step's ECS task gone, stuck or past its timeout (a retry or failure follows). */
  STEP_TASK_LOST: 'STEP_TASK_LOST',
  /** A rerun started with steps that reuse their parent run's outputs. */
  STEP_REUSED: 'STEP_REUSED',
  /** An attempt found every slot of its concurrency key taken and waits for one (once per wait). */
  STEP_WAITING_FOR_SLOT: 'STEP_WAITING_FOR_SLOT',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
