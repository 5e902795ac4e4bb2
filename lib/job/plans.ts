import type { JobPlan } from './dag.ts';
import type { JobRegistry } from './registry.ts';

const MAX_CACHED = 32;

/**
 * A run's plan, rebuilt from its job and input (deterministic) and cached per run,
 * so the worker never stores or reads the DAG shape.
 */
export class PlanCache {
  private readonly plans = new Map<string, JobPlan>();

  constructor(private readonly registry: JobRegistry) {}

  get(runId: string, jobName: string, input: unknown): JobPlan {
    const cached = this.plans.get(runId);
    if (cached) {
      // Refresh recency.
      this.plans.delete(runId);
      this.plans.set(runId, cached);
      return cached;
    }
    const job = this.registry.get(jobName);
    const plan = job.plan(job.parseInput(input));
    if (this.plans.size >= MAX_CACHED) this.plans.delete(this.plans.keys().next().value as string);
    this.plans.set(runId, plan);
    return plan;
  }
}
