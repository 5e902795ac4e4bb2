/**
 * Single-table layout of the runs table. The run item is alone on `RUN#<id>` (the byJob
 * index and every status change read it); the run's other items are spread over
 * `partitions` keys `RUN#<id>#<k>`: a step's item, its fan-in shards, its events and one
 * of the run's counter items on the key its step key hashes to. One partition key takes
 * about 1,000 write units a second on DynamoDB, which a wide run's steps exceed on one key
 * (docs/scaling.md); 16 keys lift a run's ceiling sixteen-fold.
 */
export const runPk = (runId: string) => `RUN#${runId}`;
export const RUN_SK = 'RUN';
/** The sort key of a run's counter item on each of its partition keys (lib/store/runCounters.ts). */
export const COUNTER_SK = 'COUNTER';
/** How many partition keys a run's items are spread over, unless the stage says otherwise. */
export const DEFAULT_RUN_PARTITIONS = 16;
export const MAX_RUN_PARTITIONS = 64;

export type ItemKey = { readonly pk: string; readonly sk: string };

/** Where each of a run's items lives, for a table whose runs spread over `partitions` keys. */
export class RunLayout {
  constructor(readonly partitions: number = DEFAULT_RUN_PARTITIONS) {}

  runItem(runId: string): ItemKey {
    return { pk: runPk(runId), sk: RUN_SK };
  }

  /** The partition key number `partition` of a run. */
  partitionPk(runId: string, partition: number): string {
    return `${runPk(runId)}#${partition}`;
  }

  /** Every partition key of a run, in order. */
  partitionPks(runId: string): string[] {
    return Array.from({ length: this.partitions }, (_, k) => this.partitionPk(runId, k));
  }

  /** The partition key of whatever belongs to one step (its item, events, fan-in shards). */
  stepPk(runId: string, stepKey: string): string {
    return this.partitionPk(runId, fnv1a(stepKey) % this.partitions);
  }

  stepItem(runId: string, stepKey: string): ItemKey {
    return { pk: this.stepPk(runId, stepKey), sk: stepSk(stepKey) };
  }

  /** A wide fan-in's shards spread over the keys too: they exist to spread its writes. */
  fanInShardItem(runId: string, stepKey: string, shard: number): ItemKey {
    const sk = fanInShardSk(stepKey, shard);
    return { pk: this.partitionPk(runId, fnv1a(sk) % this.partitions), sk };
  }

  counterItem(runId: string, partition: number): ItemKey {
    return { pk: this.partitionPk(runId, partition), sk: COUNTER_SK };
  }

  counterItems(runId: string): ItemKey[] {
    return this.partitionPks(runId).map((pk) => ({ pk, sk: COUNTER_SK }));
  }

  /** An event goes with its step; a run-level event on the key of the empty step key. */
  eventPk(runId: string, step: string | undefined): string {
    return this.stepPk(runId, step ?? '');
  }
}

/** 32-bit FNV-1a over UTF-16 code units: cheap, stable across processes and versions. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
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

/**
 * A keyed concurrency limit's items (lib/store/slotStore.ts) are on a partition key of their
 * own, apart from every run's: the limit item, then its slot items, then its waiters, so one
 * Query with `sk < WAIT#` reads the limit and the leases without the waiters.
 */
export const concurrencyPk = (key: string) => `CONC#${key}`;
export const LIMIT_SK = 'LIMIT';
export const SLOT_SK_PREFIX = 'SLOT#';
export const slotSk = (slot: number) => `${SLOT_SK_PREFIX}${String(slot).padStart(6, '0')}`;
export const WAITER_SK_PREFIX = 'WAIT#';
/** Waiters sort by when they began to wait (13-digit epoch ms), then by holder. */
export const waiterSk = (since: number, holder: string) =>
  `${WAITER_SK_PREFIX}${String(since).padStart(13, '0')}#${holder}`;
/** GSI `byJob` also lists the keys' limit items under this partition key (`lambdag concurrency`). */
export const CONCURRENCY_GSI_PK = 'CONCURRENCY';
