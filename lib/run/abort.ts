import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import type { RunError } from '../store/types.ts';

/**
 * lambdag stops a run itself (its timeout passed, a fail-fast step failed): the run winds
 * down like a canceled one — steps not started never start, running ones are aborted —
 * and ends FAILED with `error`. False when the run was not running (nothing changed).
 */
export async function abortRun(deps: Deps, runId: string, error: RunError): Promise<boolean> {
  const moved = await deps.store.requestCancel(runId, error.message, error);
  if (!moved.ok) return false;
  await deps.store.appendEvent(
    {
      runId,
      type: EventType.RUN_CANCEL_REQUESTED,
      message: `stopping the run: ${error.message}`,
      data: { reason: error.message, error },
    },
    moved.item.expiresAt,
  );
  deps.log.warn('run stopped by lambdag', { runId, error });
  return true;
}
