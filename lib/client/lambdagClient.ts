import type { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Deps } from '../deps.ts';
import {
  InvalidInputError,
  PayloadTooLargeError,
  RunNotFinishedError,
  RunNotFoundError,
  RunStartFailedError,
} from '../errors.ts';
import { runPriorityProblem } from '../job/priority.ts';
import type { JobRegistry } from '../job/registry.ts';
import { type CancelResult, requestCancel } from '../run/cancel.ts';
import { newRunId, runIdForClientToken } from '../run/ids.ts';
import { checkRerunnable, prepareRerun, type RerunOptions } from '../run/rerun.ts';
import { MAX_INPUT_BYTES, type StartRunRequest } from '../run/start.ts';
import { TERMINAL_RUN_STATUSES } from '../status.ts';
import type { PayloadStore } from '../step/payload.ts';
import { s3Keys } from '../store/keys.ts';
import type { RunStore } from '../store/runStore.ts';
import type { RunEvent, RunRecord } from '../store/types.ts';
import { RunReader } from './runReader.ts';

/** Step Functions caps execution input at 256 KiB; larger run inputs travel by S3 key. */
const MAX_EXECUTION_INPUT_BYTES = 256 * 1024 - 1024;

export interface ClientDeps {
  readonly sfn: SFNClient;
  /** To list the step attempts' log objects (client.reader.stepLogs). */
  readonly s3?: S3Client;
  readonly store: RunStore;
  readonly payloads: PayloadStore;
  readonly stateMachineArn: string;
  /** When given, input is validated before anything is started. */
  readonly registry?: JobRegistry;
}

export interface StartedRun {
  readonly runId: string;
  readonly executionArn: string;
  /** True when this client token had already started the run. */
  readonly alreadyStarted: boolean;
}

export interface WaitOptions {
  /** Called whenever the run's counters or status change. */
  readonly onProgress?: (run: RunRecord) => void;
  readonly signal?: AbortSignal;
  readonly maxIntervalMs?: number;
  /** How long a run may take to appear in the run store after its start (default 60 s). */
  readonly startTimeoutMs?: number;
}

/** Between checks of the execution while its run has not appeared yet: DescribeExecution is throttled. */
const START_CHECK_INTERVAL_MS = 2_000;

/**
 * Start and follow runs. A run starts as an execution of the run state machine (the
 * same path as the console, the AWS CLI or a schedule); waiting reads the run store,
 * not DescribeExecution (throttled to about 15 calls/s per account).
 */
export class LambdagClient {
  constructor(private readonly deps: ClientDeps) {}

  /** A client on the engine's deps (their clients, store and jobs) for this state machine. */
  static fromDeps(
    deps: Pick<Deps, 'aws' | 'store' | 'payloads' | 'registry'>,
    stateMachineArn: string,
  ): LambdagClient {
    const { aws, store, payloads, registry } = deps;
    return new LambdagClient({ sfn: aws.sfn, s3: aws.s3, store, payloads, stateMachineArn, registry });
  }

  /**
   * Start a run. With a client token, starting twice yields one run.
   *
   * @example
   * ```ts
   * const { runId } = await client.startRun({ job: 'diamond', input: { x: 1 } });
   * const run = await client.waitForRun(runId);
   * ```
   */
  async startRun(request: {
    job: string;
    input?: unknown;
    clientToken?: string;
    parentRunId?: string;
    /** 0 (routine, default) to 9: from 5 up its steps go to the high queue (docs/concurrency.md). */
    priority?: number;
  }): Promise<StartedRun> {
    const inputBytes = Buffer.byteLength(JSON.stringify(request.input ?? {}));
    // Refused here too (StartRun checks it), before anything is uploaded or started.
    if (inputBytes > MAX_INPUT_BYTES)
      throw new PayloadTooLargeError('run input', inputBytes, MAX_INPUT_BYTES);
    const badPriority = request.priority === undefined ? undefined : runPriorityProblem(request.priority);
    if (badPriority) throw new InvalidInputError(`run of job '${request.job}' is invalid`, [badPriority]);
    if (this.deps.registry) {
      const job = this.deps.registry.get(request.job);
      job.plan(job.parseInput(request.input));
    }
    const runId = request.clientToken ? runIdForClientToken(request.job, request.clientToken) : newRunId();
    const body: StartRunRequest = {
      job: request.job,
      runId,
      ...(request.clientToken ? { clientToken: request.clientToken } : {}),
      ...(request.parentRunId ? { parentRunId: request.parentRunId } : {}),
      ...(request.priority === undefined ? {} : { priority: request.priority }),
    };
    let input = JSON.stringify({ ...body, input: request.input ?? {} });
    if (Buffer.byteLength(input) > MAX_EXECUTION_INPUT_BYTES) {
      const inputKey = s3Keys.runInput(runId);
      await this.deps.payloads.putJson(inputKey, request.input);
      input = JSON.stringify({ ...body, inputKey });
    }
    try {
      const out = await this.deps.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.deps.stateMachineArn, name: runId, input }),
      );
      return { runId, executionArn: out.executionArn ?? '', alreadyStarted: false };
    } catch (error) {
      if (!(error instanceof ExecutionAlreadyExists) || !request.clientToken) throw error;
      const run = await this.deps.store.getRun(runId);
      return { runId, executionArn: run?.executionArn ?? '', alreadyStarted: true };
    }
  }

  /**
   * The run as recorded in the run store.
   *
   * @example
   * ```ts
   * const run = await client.getRun(runId); // throws RunNotFoundError for an unknown id
   * console.log(run.status, run.succeeded, '/', run.stepCount);
   * ```
   */
  getRun(runId: string): Promise<RunRecord> {
    return this.deps.store.requireRun(runId);
  }

  /**
   * Cancel a run: it becomes CANCELING at once; steps not yet started never start, running
   * steps see their `signal` aborted, and its execution ends CANCELED (`lambdag.RunCanceled`)
   * within a poll or two. Cancelling a finished run changes nothing (`requested: false`,
   * with a message saying so); an unknown run throws RunNotFoundError.
   *
   * @example
   * ```ts
   * const { requested, message } = await client.cancelRun(runId, { reason: 'wrong input' });
   * const run = await client.waitForRun(runId); // status CANCELED
   * ```
   */
  cancelRun(runId: string, options: { reason?: string } = {}): Promise<CancelResult> {
    return requestCancel(this.deps.store, runId, options.reason);
  }

  /**
   * Start a new run of a finished run's job and input that reuses the outputs of the steps
   * that succeeded in it and runs the rest: `fromFailure` runs what did not succeed,
   * `steps` runs the chosen steps; both run everything downstream too. The new run records
   * `parentRunId`. Throws RunNotFoundError, RunNotFinishedError (the run has not ended),
   * UnknownStepError (naming the unknown steps) or NothingToRerunError (`fromFailure` on a
   * run whose steps all succeeded) before anything starts.
   *
   * @example
   * ```ts
   * const { runId } = await client.rerun(failedRunId, { fromFailure: true });
   * const run = await client.waitForRun(runId); // run.parentRunId === failedRunId
   * ```
   */
  async rerun(runId: string, options: RerunOptions): Promise<{ runId: string; executionArn: string }> {
    let job: string;
    if (this.deps.registry) {
      // The full check (plan, step names, what is left to run) before anything starts.
      const prepared = await prepareRerun(
        { store: this.deps.store, payloads: this.deps.payloads, registry: this.deps.registry },
        runId,
        options,
      );
      job = prepared.parent.job;
    } else {
      // Without the jobs, check what the run item tells; StartRun checks the rest.
      const parent = await this.deps.store.requireRun(runId);
      checkRerunnable(parent, options);
      job = parent.job;
    }
    const newId = newRunId();
    const body: StartRunRequest = {
      job,
      runId: newId,
      parentRunId: runId,
      rerun: {
        ...(options.fromFailure ? { fromFailure: true } : {}),
        ...(options.steps?.length ? { steps: [...options.steps] } : {}),
      },
    };
    const out = await this.deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: this.deps.stateMachineArn,
        name: newId,
        input: JSON.stringify(body),
      }),
    );
    return { runId: newId, executionArn: out.executionArn ?? '' };
  }

  /** Wait until the run ends, polling the run store with a growing interval. */
  async waitForRun(runId: string, options: WaitOptions = {}): Promise<RunRecord> {
    let interval = 100;
    let last = '';
    const startDeadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    let nextStartCheck = Date.now() + START_CHECK_INTERVAL_MS;
    for (;;) {
      options.signal?.throwIfAborted();
      const run = await this.deps.store.getRun(runId);
      if (!run) {
        // The execution has started but StartRun has not recorded the run yet, or it failed.
        if (Date.now() >= nextStartCheck || Date.now() >= startDeadline) {
          await this.throwIfStartFailed(runId);
          if (Date.now() >= startDeadline) throw new RunNotFoundError(runId);
          nextStartCheck = Date.now() + START_CHECK_INTERVAL_MS;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const seen = `${run.status}:${run.succeeded}:${run.failed}:${run.skipped}`;
      if (seen !== last) {
        options.onProgress?.(run);
        interval = 100;
        last = seen;
      } else {
        interval = Math.min(options.maxIntervalMs ?? 2_000, interval * 2);
      }
      if (TERMINAL_RUN_STATUSES.has(run.status)) return run;
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  /** The execution of a run is named after the run: `...:execution:<machine>:<runId>`. */
  executionArnOf(runId: string): string {
    return `${this.deps.stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
  }

  private async throwIfStartFailed(runId: string): Promise<void> {
    let described: { status?: string; error?: string; cause?: string };
    try {
      described = await this.deps.sfn.send(
        new DescribeExecutionCommand({ executionArn: this.executionArnOf(runId) }),
      );
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') throw new RunNotFoundError(runId);
      throw error;
    }
    if (described.status && described.status !== 'RUNNING') {
      throw new RunStartFailedError(runId, described.status, described.error, described.cause);
    }
  }

  listRuns(job: string, limit?: number): Promise<RunRecord[]> {
    return this.deps.store.listRuns(job, limit);
  }

  /** A run's events in order; `after`: the cursor of the previous page; `limit`: event items per page. */
  listEvents(
    runId: string,
    after?: string,
    limit?: number,
  ): Promise<{ events: RunEvent[]; cursor?: string }> {
    return this.deps.store.listEvents(runId, after, limit);
  }

  /**
   * Reads for views of runs (the UI, `lambdag status`): runs of several jobs paged by
   * cursor, a run with its steps in plan order and its graph, a step's attempts, outputs.
   *
   * @example
   * ```ts
   * const { runs, cursor } = await client.reader.listRunsPage({ jobs: ['diamond'], limit: 20 });
   * const { steps, graph } = await client.reader.runView(runs[0].runId);
   * ```
   */
  get reader(): RunReader {
    return new RunReader(this.deps);
  }

  /** The run's result document (manifest with every step), once it has finished. */
  getResultDocument(run: RunRecord): Promise<unknown> {
    if (!run.resultKey) throw new RunNotFinishedError(run.runId, run.status, 'it has no result yet');
    return this.deps.payloads.getArtifact(run.resultKey, { runId: run.runId });
  }
}
