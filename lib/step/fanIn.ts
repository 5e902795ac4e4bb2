import type { Deps } from '../deps.ts';
import type { JobPlan } from '../job/dag.ts';
import type { FanInShard } from '../store/types.ts';

/**
 * How a fan-in step counts its upstream steps down.
 *
 * A fan-in of up to FAN_IN_SHARD_SIZE upstream steps counts on its own item: `pending`, and
 * `resolvedBy` (the upstream indices counted, so a retried release is not counted twice).
 * A wider one counts on shard items of FAN_IN_SHARD_SIZE upstream steps each, and its own
 * item counts the shards: a shard's releaser that sees it at zero resolves the shard there.
 * Without shards, every release of a 10,000-way fan-in rewrites one item that grows to some
 * 60 KB of `resolvedBy`, and DynamoDB bills a write by the item's size (about 3 write units
 * per upstream step over the run, against under 1 with shards); the emulator, too, slows
 * with the item.
 *
 * A crash between a shard reaching zero and its resolution on the step item is recovered
 * like any other: the redelivered upstream step releases again, finds its index counted and
 * the shard at zero, and resolves the shard (once, by `resolvedBy`).
 */
export const FAN_IN_SHARD_SIZE = 256;

export const isShardedFanIn = (upstreamCount: number) => upstreamCount > FAN_IN_SHARD_SIZE;

export const shardOf = (upstreamIndex: number) => Math.floor(upstreamIndex / FAN_IN_SHARD_SIZE);

export type { FanInShard } from '../store/types.ts';

/**
 * What a step waits for as its run starts: `pending` for its own item, and its shard items
 * when it is a wide fan-in. `willRun(i)`: whether upstream step i is still to succeed (in a
 * rerun, a reused step has). A shard with nothing to wait for is neither written nor counted.
 */
export function initialPending(
  runId: string,
  step: string,
  upstreamCount: number,
  willRun: (upstreamIndex: number) => boolean,
): { pending: number; shards: FanInShard[] } {
  if (!isShardedFanIn(upstreamCount)) {
    let pending = 0;
    for (let i = 0; i < upstreamCount; i++) if (willRun(i)) pending++;
    return { pending, shards: [] };
  }
  const shards: FanInShard[] = [];
  for (let start = 0; start < upstreamCount; start += FAN_IN_SHARD_SIZE) {
    let pending = 0;
    for (let i = start; i < Math.min(start + FAN_IN_SHARD_SIZE, upstreamCount); i++)
      if (willRun(i)) pending++;
    if (pending > 0) shards.push({ runId, step, shard: shardOf(start), pending });
  }
  return { pending: shards.length, shards };
}

/**
 * Upstream steps `upstreamIndices` of fan-in `dependent` succeeded: count them (once each,
 * however often this runs). True when the fan-in has none left, for the caller to queue it
 * (a conditional write with one winner). One write per shard touched, and one more on the
 * step item when shards reach zero.
 */
export async function resolveUpstream(
  deps: Pick<Deps, 'store'>,
  runId: string,
  plan: JobPlan,
  dependent: string,
  upstreamIndices: readonly number[],
): Promise<boolean> {
  return resolveOf(deps, runId, dependent, plan.upstream.get(dependent)?.length ?? 0, upstreamIndices);
}

/**
 * resolveUpstream for a fan-in of `upstreamCount` steps, known from elsewhere than the plan
 * (a map step counts down its items: lib/step/mapExpansion.ts).
 */
export async function resolveOf(
  deps: Pick<Deps, 'store'>,
  runId: string,
  dependent: string,
  upstreamCount: number,
  upstreamIndices: readonly number[],
): Promise<boolean> {
  if (!isShardedFanIn(upstreamCount))
    return (await deps.store.resolveDependencies(runId, dependent, upstreamIndices)) === 0;
  const byShard = new Map<number, number[]>();
  for (const index of upstreamIndices) {
    const shard = shardOf(index);
    byShard.set(shard, [...(byShard.get(shard) ?? []), index]);
  }
  const emptied: number[] = [];
  await Promise.all(
    [...byShard].map(async ([shard, indices]) => {
      if ((await deps.store.resolveDependencies(runId, dependent, indices, shard)) === 0) emptied.push(shard);
    }),
  );
  if (emptied.length === 0) return false;
  return (await deps.store.resolveDependencies(runId, dependent, emptied)) === 0;
}
