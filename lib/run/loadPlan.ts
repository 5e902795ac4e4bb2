import type { Deps } from '../deps.ts';
import type { JobPlan } from '../job/dag.ts';
import type { RunRecord } from '../store/types.ts';

/** A run's input as its job parsed it, wherever it is stored. */
export async function loadRunInput(deps: Deps, run: RunRecord): Promise<unknown> {
  const raw = run.inputKey ? await deps.payloads.getArtifact(run.inputKey, { runId: run.runId }) : run.input;
  return deps.registry.get(run.job).parseInput(raw);
}

export async function loadPlan(deps: Deps, run: RunRecord): Promise<{ plan: JobPlan; input: unknown }> {
  const input = await loadRunInput(deps, run);
  return { plan: deps.registry.get(run.job).plan(input), input };
}
