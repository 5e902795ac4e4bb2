import { z } from 'zod';
import { InvalidInputError, NothingToRerunError, RunNotFinishedError, UnknownStepError } from '../errors.ts';
import { descendantsOf, type JobPlan } from '../job/dag.ts';
import type { JobRegistry } from '../job/registry.ts';
import { RunStatus, StepStatus, TERMINAL_RUN_STATUSES } from '../status.ts';
import { type FanInShard, initialPending } from '../step/fanIn.ts';
import type { PayloadStore } from '../step/payload.ts';
import { hasOutput } from '../step/stepOutput.ts';
import type { RunStore } from '../store/runStore.ts';
import type { RunRecord, StepRecord } from '../store/types.ts';

/**
 * Re-execution: a new run of a finished run's job and input that reuses the outputs of
 * the parent's succeeded steps (the new step items point at the parent's S3 outputs: the
 * pointer is copied, not the data) and runs the rest.
 *
 * - `fromFailure`: run every step that did not succeed in the parent (failed, skipped,
 *   canceled, never started) and everything downstream of them.
 * - `steps`: run the chosen steps and everything downstream of them; a step that did not
 *   succeed in the parent has no output to reuse, so it runs too.
 */
export const RerunOptionsSchema = z.object({
  fromFailure: z.boolean().optional(),
  steps: z.array(z.string().min(1)).min(1).optional(),
});
export type RerunOptions = z.infer<typeof RerunOptionsSchema>;

/** Which steps of the new run run, and which reuse a parent step's output. */
export interface ReusePlan {
  readonly parentRunId: string;
  /** Steps that run in the new run. */
  readonly toRun: ReadonlySet<string>;
  /** Step key -> the parent's SUCCEEDED step whose output is reused. */
  readonly reused: ReadonlyMap<string, StepRecord>;
  /**
   * Map steps that run again over the parent's list (their upstream is reused) and were not
   * chosen: only their items that did not succeed run (lib/step/mapReuse.ts).
   */
  readonly reuseItems?: ReadonlySet<string>;
}

export interface PreparedRerun {
  readonly parent: RunRecord;
  /** The parent's input, parsed by its job. */
  readonly input: unknown;
  readonly plan: JobPlan;
  readonly reuse: ReusePlan;
}

/** What preparing a rerun reads: the parent run, its input and steps, and the job. */
export interface RerunSources {
  readonly store: RunStore;
  readonly payloads: PayloadStore;
  readonly registry: JobRegistry;
}

/**
 * Read the parent run and decide what the rerun runs. Throws, in this order:
 * RunNotFoundError (no such run), RunNotFinishedError (it has not finished),
 * InvalidInputError (neither `fromFailure` nor `steps`), UnknownStepError (names every
 * unknown step), NothingToRerunError (`fromFailure` with nothing that did not succeed).
 * Used by the client (errors before anything starts) and by StartRun (anyone may start
 * a rerun with StartExecution).
 */
export async function prepareRerun(
  src: RerunSources,
  parentRunId: string,
  options: RerunOptions,
): Promise<PreparedRerun> {
  const parent = await src.store.requireRun(parentRunId);
  checkRerunnable(parent, options);
  const job = src.registry.get(parent.job);
  const raw = parent.inputKey
    ? await src.payloads.getArtifact(parent.inputKey, { runId: parent.runId })
    : parent.input;
  const input = job.parseInput(raw);
  const plan = job.plan(input);
  checkStepNames(plan, options);
  const parentSteps = new Map<string, StepRecord>();
  for await (const step of src.store.listSteps(parentRunId)) parentSteps.set(step.key, step);
  return { parent, input, plan, reuse: planRerun(parent, plan, parentSteps, options) };
}

/** The checks that need only the run item. */
export function checkRerunnable(parent: RunRecord, options: RerunOptions): void {
  if (!TERMINAL_RUN_STATUSES.has(parent.status)) {
    throw new RunNotFinishedError(
      parent.runId,
      parent.status,
      'only a finished run can be re-run: wait for it to end, or cancel it first',
    );
  }
  if (!options.fromFailure && !options.steps?.length) {
    throw new InvalidInputError(
      `say what to re-run of run '${parent.runId}': from its failure (--from-failure) or chosen steps (--steps a,b)`,
    );
  }
  if (options.fromFailure && !options.steps?.length && parent.status === RunStatus.SUCCEEDED) {
    throw new NothingToRerunError(
      parent.runId,
      'it succeeded, so there is no failure to re-run from; to run steps again, choose them with --steps',
    );
  }
}

function checkStepNames(plan: JobPlan, options: RerunOptions): void {
  const unknown = (options.steps ?? []).filter((key) => !plan.steps.has(key));
  if (unknown.length > 0) throw new UnknownStepError(plan.job, [...new Set(unknown)], plan.order);
}

/** Pure: which steps run (the seeds and all their descendants) and which are reused. */
export function planRerun(
  parent: RunRecord,
  plan: JobPlan,
  parentSteps: ReadonlyMap<string, StepRecord>,
  options: RerunOptions,
): ReusePlan {
  checkStepNames(plan, options);
  const reusable = (key: string) => {
    const step = parentSteps.get(key);
    return step?.status === StepStatus.SUCCEEDED && hasOutput(step);
  };
  const seeds = new Set(options.steps ?? []);
  for (const key of plan.order) if (!reusable(key)) seeds.add(key);
  const toRun = new Set<string>();
  for (const key of seeds) {
    if (toRun.has(key)) continue;
    toRun.add(key);
    for (const below of descendantsOf(plan, key)) toRun.add(below);
  }
  if (toRun.size === 0) {
    throw new NothingToRerunError(
      parent.runId,
      `every step succeeded (the run ended ${parent.status}), so there is no failure to re-run from; to run steps again, choose them with --steps`,
    );
  }
  const reused = new Map<string, StepRecord>();
  for (const key of plan.order) {
    if (!toRun.has(key)) reused.set(key, parentSteps.get(key) as StepRecord);
  }
  const chosen = new Set(options.steps ?? []);
  const reuseItems = new Set(
    [...toRun].filter((key) => {
      const over = plan.steps.get(key)?.map?.over;
      return over !== undefined && !toRun.has(over) && !chosen.has(key);
    }),
  );
  return { parentRunId: parent.runId, toRun, reused, ...(reuseItems.size > 0 ? { reuseItems } : {}) };
}

/**
 * The step items a run starts with, the shard items of its wide fan-ins (lib/step/fanIn.ts), and
 * its roots (the steps dispatched at once). In a rerun, a reused step starts SUCCEEDED with
 * the parent's output pointer, and a step's pending counter counts only its upstream steps
 * that will run: the reused ones have already "succeeded", so no one will decrement it for them.
 */
export function initialSteps(
  runId: string,
  plan: JobPlan,
  now: string,
  reuse?: ReusePlan,
): { steps: StepRecord[]; shards: FanInShard[]; roots: string[] } {
  const steps: StepRecord[] = [];
  const shards: FanInShard[] = [];
  const roots: string[] = [];
  for (const key of plan.order) {
    const parentStep = reuse?.reused.get(key);
    if (parentStep) {
      steps.push({
        runId,
        key,
        status: StepStatus.SUCCEEDED,
        attempt: parentStep.attempt,
        pending: 0,
        ...(parentStep.outputKey ? { outputKey: parentStep.outputKey } : {}),
        ...(parentStep.outputKey === undefined && 'output' in parentStep
          ? { output: parentStep.output }
          : {}),
        // The run that produced the output (a parent may itself have reused it).
        reusedFrom: parentStep.reusedFrom ?? reuse?.parentRunId,
        // A reused map step's items stay in that run, where its dependents read them.
        ...(parentStep.map ? { map: parentStep.map } : {}),
        finishedAt: now,
        updatedAt: now,
      });
      continue;
    }
    const upstream = plan.upstream.get(key) ?? [];
    const waiting = initialPending(runId, key, upstream.length, (i) =>
      reuse ? reuse.toRun.has(upstream[i] as string) : true,
    );
    const pending = waiting.pending;
    shards.push(...waiting.shards);
    if (pending === 0) roots.push(key);
    steps.push({
      runId,
      key,
      status: pending === 0 ? StepStatus.QUEUED : StepStatus.WAITING,
      attempt: 1,
      pending,
      updatedAt: now,
      ...(pending === 0 ? { queuedAt: now } : {}),
      ...(reuse?.reuseItems?.has(key) ? { reuseItemsFrom: reuse.parentRunId } : {}),
    });
  }
  return { steps, shards, roots };
}
