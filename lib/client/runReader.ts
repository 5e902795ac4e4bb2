import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, UnknownStepError } from '../errors.ts';
import type { JobPlan } from '../job/dag.ts';
import type { JobRegistry } from '../job/registry.ts';
import type { RunStatus } from '../status.ts';
import type { PayloadStore } from '../step/payload.ts';
import type { StepLogDocument } from '../step/stepLog.ts';
import type { RunStore } from '../store/runStore.ts';
import type { RunEvent, RunRecord, StepRecord } from '../store/types.ts';
import { groupSteps, planOrder, type RunGraph, runGraph } from './runGraph.ts';
import { type AttemptView, attemptsOf, decodeCursor, mergeRunPages, type RunsPage } from './runViews.ts';
import { readStepLogs } from './stepLogs.ts';

export interface ReaderDeps {
  readonly s3?: S3Client;
  readonly store: RunStore;
  readonly payloads: PayloadStore;
  readonly registry?: JobRegistry;
}

/** A run with its steps in plan order, its graph and its attempts. */
export interface RunView {
  readonly run: RunRecord;
  /** Every step, in plan (topological) order. */
  readonly steps: readonly StepRecord[];
  readonly graph: RunGraph;
  /** False when this process does not know the run's job: the graph then has no edges. */
  readonly planned: boolean;
  /** Step key -> the graph node (a collapsed group) it is drawn in, for the steps in groups. */
  readonly groups: ReadonlyMap<string, string>;
}

/** At most this many event items are read to tell a step's attempts or a run's timeline. */
export const MAX_EVENT_ITEMS = 5_000;
/** Event items per read of the event log. */
const EVENT_PAGE = 1_000;

/**
 * The reads behind `lambdag status`, `lambdag runs` and the UI, all through the run store
 * (the byJob index, the run's partition keys), never a scan of the table.
 */
export class RunReader {
  constructor(private readonly deps: ReaderDeps) {}

  /** Runs of these jobs newest first, a page at a time (`cursor` from the previous page). */
  async listRunsPage(options: {
    jobs: readonly string[];
    limit: number;
    status?: RunStatus;
    cursor?: string;
  }): Promise<RunsPage> {
    const previous = decodeCursor(options.cursor);
    const live = options.jobs.filter((job) => previous[job] !== null);
    const pages = new Map(
      await Promise.all(
        live.map(
          async (job) =>
            [job, await this.deps.store.listRuns(job, options.limit, previous[job] ?? undefined)] as const,
        ),
      ),
    );
    return mergeRunPages(pages, previous, options.limit, options.status);
  }

  /** The run's plan, rebuilt from its job and input; undefined when this process does not know the job. */
  async planOf(run: RunRecord): Promise<JobPlan | undefined> {
    if (!this.deps.registry?.names().includes(run.job)) return undefined;
    const job = this.deps.registry.get(run.job);
    const raw = run.inputKey
      ? await this.deps.payloads.getArtifact(run.inputKey, { runId: run.runId })
      : run.input;
    return job.plan(job.parseInput(raw));
  }

  async stepsOf(runId: string): Promise<Map<string, StepRecord>> {
    const steps = new Map<string, StepRecord>();
    for await (const step of this.deps.store.listSteps(runId)) steps.set(step.key, step);
    return steps;
  }

  async runView(runId: string): Promise<RunView & { plan?: JobPlan }> {
    const run = await this.deps.store.requireRun(runId);
    const [plan, byKey] = await Promise.all([this.planOf(run), this.stepsOf(runId)]);
    const steps = planOrder(plan, byKey.keys()).map((key) => byKey.get(key) as StepRecord);
    const groups = plan ? groupSteps(plan) : new Map<string, string>();
    const graph = plan ? runGraph(plan, byKey, groups) : { nodes: [], edges: [] };
    return { run, steps, graph, groups, planned: plan !== undefined, ...(plan ? { plan } : {}) };
  }

  /** The run's events from its start, at most MAX_EVENT_ITEMS items: `complete` says whether that was all. */
  async boundedEvents(runId: string): Promise<{ events: RunEvent[]; complete: boolean }> {
    const events: RunEvent[] = [];
    let cursor: string | undefined;
    for (let read = 0; read < MAX_EVENT_ITEMS; read += EVENT_PAGE) {
      const page = await this.deps.store.listEvents(runId, cursor, EVENT_PAGE);
      events.push(...page.events);
      if (page.cursor === cursor || page.events.length === 0) return { events, complete: true };
      cursor = page.cursor;
    }
    return { events, complete: false };
  }

  /** The run's attempts in the order they started (the Gantt timeline), and whether every event was read. */
  async timeline(runId: string): Promise<{ attempts: AttemptView[]; complete: boolean }> {
    const view = await this.runView(runId);
    const { events, complete } = await this.boundedEvents(runId);
    const steps = new Map(view.steps.map((step) => [step.key, step]));
    return { attempts: attemptsOf(view.run, events, view.plan, steps), complete };
  }

  /** One step with its attempts (from the run's events, bounded) and its upstream and downstream steps. */
  async stepView(
    runId: string,
    key: string,
  ): Promise<{
    step: StepRecord;
    attempts: AttemptView[];
    progress: RunEvent[];
    upstream: readonly string[];
    downstream: readonly string[];
    logs: readonly StepLogDocument[];
  }> {
    const run = await this.deps.store.requireRun(runId);
    const step = await this.deps.store.getStep(runId, key);
    if (!step) throw new UnknownStepError(run.job, [key], []);
    const plan = await this.planOf(run);
    const [{ events }, { logs }] = await Promise.all([
      this.boundedEvents(runId),
      this.deps.s3 ? this.stepLogs(runId, key) : { logs: [] },
    ]);
    const own = events.filter((event) => event.step === key);
    return {
      step,
      attempts: attemptsOf(run, own, plan, new Map([[key, step]])),
      progress: own.filter((event) => event.type === 'STEP_PROGRESS'),
      upstream: plan?.upstream.get(key) ?? [],
      downstream: plan?.dependents.get(key) ?? [],
      logs,
    };
  }

  /** What the run's step attempts (or one step's) wrote with `ctx.log`: only attempts that logged. */
  stepLogs(runId: string, step?: string): Promise<{ logs: StepLogDocument[]; more: boolean }> {
    if (!this.deps.s3) throw new ConfigError('s3', 'this client has no S3 client to read step logs with');
    return readStepLogs(this.deps.s3, this.deps.payloads, runId, step);
  }

  /** A step's output: inline, or read from S3; with its size in bytes (as JSON). */
  async outputOf(runId: string, key: string): Promise<{ size: number; value: unknown; where: string }> {
    const run = await this.deps.store.requireRun(runId);
    const step = await this.deps.store.getStep(runId, key);
    if (!step) throw new UnknownStepError(run.job, [key], []);
    if (step.outputKey) {
      const value = await this.deps.payloads.getArtifact(step.outputKey, { runId, step: key });
      return { size: Buffer.byteLength(JSON.stringify(value) ?? ''), value, where: step.outputKey };
    }
    return {
      size: Buffer.byteLength(JSON.stringify(step.output) ?? ''),
      value: step.output,
      where: 'inline',
    };
  }
}
