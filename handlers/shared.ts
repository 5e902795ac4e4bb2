import type { Context } from 'aws-lambda';
import { createDeps, type Deps } from '../lib/deps.ts';
import { registry } from './registry.ts';

/**
 * Deps are built once per Lambda container, on first use (not at import), so the
 * environment in force at the first invocation is the one used.
 */
export function lazyDeps(): () => Deps {
  let deps: Deps | undefined;
  return () => {
    deps ??= createDeps(registry);
    return deps;
  };
}

/** Epoch ms by which work in this invocation must end, leaving a margin to record the outcome. */
export function deadlineOf(context: Context | undefined, marginMs = 5_000): number | undefined {
  if (!context?.getRemainingTimeInMillis) return undefined;
  return Date.now() + Math.max(1_000, context.getRemainingTimeInMillis() - marginMs);
}
