import type { SerializedError } from '../errors.ts';
import type { EventType } from '../eventTypes.ts';
import type { RunStatus, StepStatus } from '../status.ts';

/** Where and why a run failed, as shown to users. */
export interface RunError {
  readonly step?: string;
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export interface RunRecord {
  readonly runId: string;
  readonly job: string;
  readonly status: RunStatus;
  readonly stepCount: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt?: string;
  /** The run input inline when small, else `inputKey` in S3. */
  readonly input?: unknown;
  /** The priority the run was started with (0-9, lib/job/priority.ts); absent: the default. */
  readonly priority?: number;
  readonly inputKey?: string;
  readonly executionArn?: string;
  readonly clientToken?: string;
  readonly parentRunId?: string;
  /** The run's result (outputs of its sink steps) inline when small; always at `resultKey`. */
  readonly result?: unknown;
  readonly resultKey?: string;
  readonly error?: RunError;
  readonly failedSteps?: readonly string[];
  readonly skippedSteps?: readonly string[];
  /** StartRun wrote the step items: from here a retried StartRun must not overwrite them. */
  readonly stepsWritten?: boolean;
  /**
   * How many step items (in plan order) StartRun has written so far, while it writes a plan
   * too big for one invocation in slices; the next StartRun goes on from there.
   */
  readonly stepsWrittenCount?: number;
  /** Set when a worker recovered from a crash: the next poll recounts from the steps. */
  readonly reconcile?: boolean;
  /**
   * Set when lambdag itself stopped the run (its timeout, a fail-fast failure): the run
   * is wound down like a canceled one but ends FAILED with this error.
   */
  readonly abortError?: RunError;
  /** When `cancelRun` moved the run to CANCELING (the grace period counts from here). */
  readonly cancelRequestedAt?: string;
  readonly cancelReason?: string;
  /** Steps that ended CANCELED (set when a canceled run is finalized). */
  readonly canceled?: number;
  /**
   * ECS tasks launched for this run's steps and not yet settled, as `step attempt taskArn`
   * entries (a string set): what PollRun supervises without reading every step.
   */
  readonly tasks?: readonly string[];
  /** Steps of a rerun that reuse their parent run's outputs (counted in `succeeded` too). */
  readonly reused?: number;
  /**
   * The run's `maxConcurrentRuns` (docs/concurrency.md): its slot key and limit, when it
   * was queued (epoch ms: its place in line) and, once it has started, the slot it holds.
   */
  readonly runLimit?: RunLimitEntry;
  /** When a queued run left the queue and started (its timeout counts from here). */
  readonly startedAt?: string;
  /**
   * When the run expires (epoch seconds, the runs table's TTL attribute): its start plus the
   * retention, as lib/run/retention.ts computes it. Every item of the run carries the same.
   */
  readonly expiresAt?: number;
}

export interface RunLimitEntry {
  readonly key: string;
  readonly limit: number;
  readonly queuedSince: number;
  readonly slot?: number;
}

export interface StepRecord {
  readonly runId: string;
  readonly key: string;
  readonly status: StepStatus;
  /** Current attempt number, from 1. */
  readonly attempt: number;
  /** Deliveries that claimed the current attempt: more than one means a worker died holding it. */
  readonly claims?: number;
  /**
   * Upstream steps that have not yet succeeded (atomic counter); for a fan-in of more than
   * FAN_IN_SHARD_SIZE, its shards that have not (lib/step/fanIn.ts).
   */
  readonly pending: number;
  /** The output in S3, when it is larger than INLINE_OUTPUT_BYTES. */
  readonly outputKey?: string;
  /** The output itself, when small (SUCCEEDED steps without an `outputKey`). */
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly skippedBecause?: string;
  readonly canceledBecause?: string;
  /** Set on a rerun's step that did not run: `outputKey` is the output of this earlier run. */
  readonly reusedFrom?: string;
  /**
   * The delivery (SQS message id, or ECS task ARN) whose release queued this step: only a
   * later try of that same delivery re-sends it (see releaseDependents).
   */
  readonly releasedBy?: string;
  /** ECS tasks of the current attempt that stopped before claiming it, each replaced (PollRun). */
  readonly relaunches?: number;
  /** The ECS task that claimed the current attempt (absent for Lambda attempts). */
  readonly taskArn?: string;
  /** The last heartbeat of that task. */
  readonly heartbeatAt?: string;
  /**
   * The first attempt that runs on ECS because Lambda's time ran out (`onLambdaTimeout:
   * 'ecs'`): from this attempt on the step runs on ECS, and that attempt is not a retry.
   */
  readonly promotedAt?: number;
  /** A map step's expansion (lib/step/mapExpansion.ts), set once it has begun. */
  readonly map?: MapExpansion;
  /** A map item's place in its map (lib/job/mapStep.ts). */
  readonly item?: MapItem;
  /** A rerun's map step: its items that succeeded in this earlier run are reused, not run. */
  readonly reuseItemsFrom?: string;
  readonly queuedAt?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  readonly updatedAt: string;
}

export interface RunEvent {
  readonly runId: string;
  readonly type: EventType;
  readonly at: string;
  readonly step?: string;
  readonly attempt?: number;
  readonly message?: string;
  readonly data?: Record<string, unknown>;
}

/** A wide fan-in's shard item as a run starts: the upstream steps of its range still to succeed (lib/step/fanIn.ts). */
export interface FanInShard {
  readonly runId: string;
  readonly step: string;
  readonly shard: number;
  readonly pending: number;
}

/**
 * How far a map step's expansion got: its items are written in batches, then its first
 * ones sent; a redelivery of the upstream step resumes from here.
 */
export interface MapExpansion {
  readonly items: number;
  /** Items that run: all, but in a rerun those reused from the parent run. */
  readonly running: number;
  /** Item steps written so far (in item order). */
  readonly written: number;
  /** Items sent so far, of those that start at once (the first `maxConcurrency` that run, or all). */
  readonly dispatched: number;
  /** The items' keys in S3, when a key function named them (else `map[i]`). */
  readonly keysKey?: string;
  /** When the expansion was done: its last items sent (the map step's `startedAt` is its begin). */
  readonly expandedAt?: string;
}

/** A map item step: which map, where in it, and its input (inline when small, else in S3). */
export interface MapItem {
  readonly map: string;
  readonly index: number;
  /** The map's item count (its fan-in's width). */
  readonly count: number;
  /** The item started when this one ends (the next in its lane of maxConcurrency). */
  readonly next?: string;
  readonly input?: unknown;
  readonly inputKey?: string;
}
