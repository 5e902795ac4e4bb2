import { LIMITS } from './scaleLimits.ts';

/**
 * Where a wide run meets AWS's limits: a fan-out of N steps into one collector, worked by C
 * concurrent stepWorker batches of B steps that each take d seconds (plus o of lambdag's
 * own), against the limits of bench/scaleLimits.ts. Pure arithmetic on the write profile
 * docs/performance.md measures per step (test/integration/requests.test.ts pins it), so the
 * figures are rates AWS would see, not what the emulators do.
 *
 * The write profile is a `Layout`: where a run's items live (how many partition keys, how
 * many counter items). `SPREAD` is the layout in lib/store/keys.ts; `ONE_KEY` the one before it.
 */

export interface Workload {
  /** Steps in the fan-out. */
  readonly steps: number;
  /** Concurrent stepWorker batches (the event source's MaximumConcurrency, summed over queues). */
  readonly concurrency: number;
  /** The event source's batch size. */
  readonly batchSize: number;
  /** A step body's seconds. */
  readonly stepSeconds: number;
  /** lambdag's own seconds per batch on AWS (claims, records, releases, the counter). */
  readonly overheadSeconds: number;
}

export interface Layout {
  readonly name: string;
  /** Partition keys a run's step, event and fan-in items are spread over. */
  readonly partitionKeys: number;
  /** Items the run counter is spread over (each batch updates one). */
  readonly counterItems: number;
  /** Upstream steps per fan-in shard (lib/step/fanIn.ts). */
  readonly fanInShardSize: number;
  /** Write units of one counter update (the run item's size in KB, rounded up, when the counter lives on it). */
  readonly counterWriteUnits: number;
  /** Write units of one fan-in shard update (its size in KB, rounded up). */
  readonly shardWriteUnits: number;
  /**
   * Event sort keys rise with time (EVT#<ulid>), so DynamoDB's split for heat cannot spread
   * their writes: all of a partition key's new events land at the end of its range.
   */
  readonly eventsPerPartitionKey: boolean;
}

/**
 * The layout before 2026-12-06 (and LAMBDAG_RUN_PARTITIONS=1 now): one partition key holds
 * all of a run's steps, events and its counter.
 */
export const ONE_KEY: Layout = {
  name: 'before: one partition key per run, the counter on it',
  partitionKeys: 1,
  counterItems: 1,
  fanInShardSize: 256,
  counterWriteUnits: 1,
  shardWriteUnits: 2,
  eventsPerPartitionKey: true,
};

/** Write units a step costs in the runs table, by where they land. */
const CLAIM_UNITS = 1;
const RECORD_UNITS = 1;
const EVENT_UNITS = 1;
/** Step items StartRun writes for a fan-out (one each, under 1 KB). */
const PLAN_ITEM_UNITS = 1;
/** StartRun's timeout in serverless.yml (60 s) less the margin it keeps to answer. */
const START_RUN_WORKING_SECONDS = 55;
/** Powertools' INPROGRESS put and the COMPLETED record, in the idempotency table (a key per step: never hot). */
const IDEMPOTENCY_UNITS = 2;

export interface Pressure {
  /** What is written, and where. */
  readonly what: string;
  /** Write units a second it needs at the workload's demand. */
  readonly unitsPerSecond: number;
  /** What AWS serves it (write units a second). */
  readonly limit: number;
  /** Steps a second at which it reaches its limit. */
  readonly maxStepsPerSecond: number;
}

export interface ScaleReport {
  readonly workload: Workload;
  readonly layout: string;
  /** Steps a second the workers would finish with no limit in the way. */
  readonly demandStepsPerSecond: number;
  /** Each hot spot; the one with the lowest maxStepsPerSecond binds. */
  readonly pressures: readonly Pressure[];
  /** The first limit reached, or undefined when the workers themselves are the bound. */
  readonly binding?: string;
  readonly stepsPerSecond: number;
  /** Messages received and not yet deleted (per queue: all steps on one queue). */
  readonly sqsInFlight: number;
  /** Seconds before the event source reaches the concurrency, standard mode (undefined: it cannot). */
  readonly rampSeconds?: number;
  readonly rampSecondsProvisioned: number;
  /** StartRun writes the plan into the run's partition keys before any step runs. */
  readonly planWriteSeconds: number;
  /**
   * The run's duration, roughly: the plan, the steps at the bound rate, and half the ramp
   * (the event source works at about half its final concurrency while it ramps).
   */
  readonly runSeconds: number;
  readonly notes: readonly string[];
}

/** lib/store/keys.ts as built (LAMBDAG_RUN_PARTITIONS=16, the default): 16 partition keys per run, 16 counter items. */
export const SPREAD: Layout = {
  name: 'now: a run spread over 16 partition keys, the counter over 16 items',
  partitionKeys: 16,
  counterItems: 16,
  fanInShardSize: 256,
  counterWriteUnits: 1,
  shardWriteUnits: 2,
  eventsPerPartitionKey: true,
};

export interface ModelOptions {
  /**
   * DynamoDB has split the run's partition key by sort key (split for heat, which takes
   * minutes and needs no local secondary index): then only single items and rising key
   * ranges bind. Without it, a partition key's items share one partition's 1,000 WCU/s.
   */
  readonly splitForHeat?: boolean;
}

export function modelRun(
  workload: Workload,
  layout: Layout = ONE_KEY,
  options: ModelOptions = {},
): ScaleReport {
  const { steps, concurrency, batchSize, stepSeconds, overheadSeconds } = workload;
  const demand = (concurrency * batchSize) / (stepSeconds + overheadSeconds);
  const batchesPerStep = 1 / batchSize;
  const partitionLimit = LIMITS.partitionWriteUnits.value;
  const pk = layout.partitionKeys;

  // Per step into a run's partition keys: claim, record, its event; per batch: one counter
  // update (on a partition key of the run) and one fan-in shard release.
  const perStepUnits =
    CLAIM_UNITS +
    RECORD_UNITS +
    EVENT_UNITS +
    batchesPerStep * (layout.counterWriteUnits + layout.shardWriteUnits);
  // Items of the fan-out in flight at once span this many shards; each batch touches about one.
  const inFlight = concurrency * batchSize;
  const steps_ = Math.max(1, steps);
  const activeShards = Math.max(
    1,
    Math.min(Math.ceil(steps_ / layout.fanInShardSize), Math.ceil(inFlight / layout.fanInShardSize)),
  );
  const pressures: Pressure[] = [];
  if (!options.splitForHeat) {
    pressures.push(
      pressure(
        pk === 1 ? 'the run partition key (all its items)' : `one of the run's ${pk} partition keys`,
        (demand * perStepUnits) / pk,
        partitionLimit,
        perStepUnits / pk,
      ),
    );
  }
  pressures.push(
    pressure(
      layout.counterItems === 1
        ? 'the run counter (one item)'
        : `one of ${layout.counterItems} counter items`,
      (demand * batchesPerStep * layout.counterWriteUnits) / layout.counterItems,
      partitionLimit,
      (batchesPerStep * layout.counterWriteUnits) / layout.counterItems,
    ),
    pressure(
      `a fan-in shard (${activeShards} in use at once)`,
      (demand * batchesPerStep * layout.shardWriteUnits) / activeShards,
      partitionLimit,
      (batchesPerStep * layout.shardWriteUnits) / activeShards,
    ),
    pressure(
      'the collector step item (one write as each shard empties)',
      demand / layout.fanInShardSize,
      partitionLimit,
      1 / layout.fanInShardSize,
    ),
  );
  if (layout.eventsPerPartitionKey) {
    pressures.push(
      pressure(
        pk === 1
          ? 'the newest events (rising sort keys: a split cannot spread them)'
          : `the newest events of one of ${pk} keys`,
        (demand * EVENT_UNITS) / pk,
        partitionLimit,
        EVENT_UNITS / pk,
      ),
    );
  }
  const bound = pressures.reduce((a, b) => (b.maxStepsPerSecond < a.maxStepsPerSecond ? b : a));
  const stepsPerSecond = Math.min(demand, bound.maxStepsPerSecond);
  const binding = bound.maxStepsPerSecond < demand ? bound.what : undefined;

  const notes: string[] = [];
  const ramp = rampSeconds(concurrency, LIMITS.esmRampPerMinute.value);
  if (ramp === undefined) {
    notes.push(`C above ${fmt(LIMITS.esmMaxConcurrency.value)}: provisioned mode or more queues`);
  }
  if (concurrency > LIMITS.accountConcurrency.value) {
    notes.push(`account concurrency above ${fmt(LIMITS.accountConcurrency.value)}`);
  }
  const tableUnits = stepsPerSecond * (perStepUnits + IDEMPOTENCY_UNITS);
  if (tableUnits > LIMITS.onDemandWarmWriteUnits.value) {
    notes.push(
      `the two tables take ${fmt(tableUnits)} WCU/s: pre-warm past a new table's ${fmt(LIMITS.onDemandWarmWriteUnits.value)}`,
    );
  }
  if (inFlight > LIMITS.sqsInFlight.value) {
    notes.push(`${fmt(inFlight)} in flight: past a queue's ${fmt(LIMITS.sqsInFlight.value)}`);
  }
  const planUnits =
    steps * PLAN_ITEM_UNITS + Math.ceil(steps / layout.fanInShardSize) * layout.shardWriteUnits;
  const planWriteSeconds = planUnits / (partitionLimit * pk);
  // StartRun (60 s, its deadline 5 s before) writes a plan in slices over as many invocations as it takes.
  const invocations = Math.ceil(planWriteSeconds / START_RUN_WORKING_SECONDS);
  if (invocations > 1)
    notes.push(`StartRun writes the plan in ${fmt(invocations)} invocations (${fmt(planWriteSeconds)} s)`);
  const rampProvisioned =
    rampSeconds(concurrency, LIMITS.esmRampPerMinute.value * 3, Number.POSITIVE_INFINITY) ?? 0;
  return {
    workload,
    layout: layout.name,
    demandStepsPerSecond: demand,
    pressures,
    ...(binding ? { binding } : {}),
    stepsPerSecond,
    sqsInFlight: inFlight,
    ...(ramp === undefined ? {} : { rampSeconds: ramp }),
    rampSecondsProvisioned: rampProvisioned,
    planWriteSeconds,
    runSeconds: planWriteSeconds + (ramp ?? rampProvisioned) / 2 + steps / stepsPerSecond,
    notes,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function pressure(what: string, unitsPerSecond: number, limit: number, unitsPerStep: number): Pressure {
  return { what, unitsPerSecond, limit, maxStepsPerSecond: limit / unitsPerStep };
}

/**
 * Seconds for the event source to go from its 5 starting batches to `concurrency`, adding
 * `perMinute` a minute; undefined past what one mapping can reach.
 */
export function rampSeconds(
  concurrency: number,
  perMinute: number,
  ceiling: number = LIMITS.esmMaxConcurrency.value,
): number | undefined {
  if (concurrency > ceiling) return undefined;
  const start = LIMITS.esmStartConcurrency.value;
  return concurrency <= start ? 0 : ((concurrency - start) / perMinute) * 60;
}
