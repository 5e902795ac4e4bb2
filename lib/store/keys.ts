/** Single-table layout of the runs table: one partition per run. */
export const runPk = (runId: string) => `RUN#${runId}`;
export const RUN_SK = 'RUN';
export const STEP_SK_PREFIX = 'STEP#';
export const stepSk = (stepKey: string) => `${STEP_SK_PREFIX}${stepKey}`;
export const EVENT_SK_PREFIX = 'EVT#';
/** A wide fan-in step's shard of upstream steps (lib/step/fanIn.ts). */
export const fanInShardSk = (stepKey: string, shard: number) => `FANIN#${stepKey}#${shard}`;
/** GSI `byJob`: runs of one job, newest last (run ids sort by time). */
export const jobGsiPk = (job: string) => `JOB#${job}`;
export const BY_JOB_INDEX = 'byJob';

/** S3 layout. */
export const s3Keys = {
  stepOutput: (runId: string, stepKey: string, attempt: number) =>
    `runs/${runId}/steps/${stepKey}/${attempt}/output.json`,
  /** What a step attempt wrote with `ctx.log` (lib/step/stepLog.ts), only when it logged. */
  stepLog: (runId: string, stepKey: string, attempt: number) =>
    `runs/${runId}/logs/${stepKey}/${attempt}.json`,
  /** The prefix of a run's step logs, or of one step's. */
  stepLogs: (runId: string, stepKey?: string) =>
    `runs/${runId}/logs/${stepKey === undefined ? '' : `${stepKey}/`}`,
  runInput: (runId: string) => `runs/${runId}/input.json`,
  runResult: (runId: string) => `runs/${runId}/result.json`,
  claim: (digest: string) => `claims/${digest}.json`,
  /** A map step's item keys, when a key function named them (lib/step/mapExpansion.ts). */
  mapItemKeys: (runId: string, map: string) => `runs/${runId}/maps/${map}/keys.json`,
  /** A map item's input, when too large for its step item. */
  mapItemInput: (runId: string, map: string, index: number) =>
    `runs/${runId}/maps/${map}/items/${index}.json`,
};
