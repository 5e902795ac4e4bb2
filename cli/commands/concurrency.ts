import { ConcurrencyInspector, type ConcurrencyKeyView } from '../../lib/client/concurrencyInspector.ts';
import { dim, table } from '../format.ts';
import { type Target, type TargetOptions, withTarget } from '../target.ts';
import { print } from './run.ts';

const inspector = (target: Target) => new ConcurrencyInspector(target.deps.slots);

/** `lambdag concurrency`: every concurrency key, its limit, its holders and its waiters. */
export function concurrencyCommand(options: TargetOptions & { json?: boolean }): Promise<number> {
  return withTarget(options, async (target) => {
    const keys = await inspector(target).keys();
    if (options.json) print(keys);
    else if (keys.length === 0)
      process.stdout.write(
        'no concurrency keys yet (a step with `concurrency`, or a job with `maxConcurrentRuns`, makes one when it first runs)\n',
      );
    else process.stdout.write(`${keysTable(keys)}\n`);
    return 0;
  });
}

/** `lambdag concurrency set KEY LIMIT`: the key's limit from now on, without a deploy. */
export function concurrencySetCommand(
  key: string,
  limit: string,
  options: TargetOptions & { json?: boolean },
): Promise<number> {
  return withTarget(options, async (target) => {
    await inspector(target).setLimit(key, Number(limit));
    const view = await inspector(target).key(key);
    if (options.json) print(view);
    else process.stdout.write(`${keysTable([view])}\n`);
    return 0;
  });
}

function keysTable(keys: readonly ConcurrencyKeyView[]): string {
  const rows = keys.map((k) => [
    k.key,
    k.kind,
    k.limit === undefined ? '-' : String(k.limit),
    k.override === undefined ? dim('declared') : 'set',
    String(k.holders.length),
    String(k.waiters.length),
    k.holders.map((h) => h.holder).join(' ') || '-',
  ]);
  return table([['key', 'of', 'limit', 'from', 'running', 'waiting', 'holders'], ...rows]);
}
