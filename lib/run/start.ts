import { z } from 'zod';
import { DEFAULT_MAX_POLL_TICKS } from '../aws/config.ts';
import type { Deps } from '../deps.ts';
import { InvalidInputError, PayloadTooLargeError, RunConflictError, RunVanishedError } from '../errors.ts';
import { EventType } from '../eventTypes.ts';
import { MAX_PRIORITY, MIN_PRIORITY } from '../job/priority.ts';
import { RunStatus } from '../status.ts';
import { dispatchFirstAttempts } from '../step/release.ts';
import { s3Keys } from '../store/keys.ts';
import type { RunRecord } from '../store/types.ts';
import { continueRun, isContinuation } from './continueAsNew.ts';
import { newRunId, RUN_ID, runIdForClientToken } from './ids.ts';
import { parseRequest } from './parseRequest.ts';
import { MIN_WAIT_SECONDS, type PollState } from './pollPolicy.ts';
import { initialSteps, type PreparedRerun, prepareRerun, RerunOptionsSchema } from './rerun.ts';
import { expiryOf } from './retention.ts';
import {
  askAgain,
  askForRunSlot,
  continueQueued,
  isQueuedAsk,
  type QueuedStart,
  type QueueProgress,
  queuedAskOf,
  queuedStart,
  TICKS_PER_QUEUED_ASK,
} from './runQueue.ts';

/** The run state machine's input: documented JSON anyone can send with StartExecution. */
export const StartRunRequestSchema = z
  .object({
    job: z.string().min(1),
    input: z.unknown().optional(),
    /** S3 key of the input, when a client put a large input there (Step Functions input is capped at 256 KiB). */
    inputKey: z.string().min(1).optional(),
    runId: z.string().regex(RUN_ID, 'run ids are 6-80 characters of letters, digits, _ and -').optional(),
    clientToken: z.string().min(1).max(256).optional(),
    parentRunId: z.string().optional(),
    /** Re-run `parentRunId`: its job and input, reusing the outputs of its succeeded steps (lib/run/rerun.ts). */
    rerun: RerunOptionsSchema.optional(),
    /** The run's priority, 0 (routine, default) to 9; a rerun keeps its parent's unless given (lib/job/priority.ts). */
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).optional(),
  })
  .refine((r) => r.input === undefined || r.inputKey === undefined, 'give input or inputKey, not both')
  .refine((r) => !r.rerun || r.parentRunId, { message: 'a rerun needs parentRunId', path: ['parentRunId'] })
  .refine((r) => !r.rerun || (r.input === undefined && r.inputKey === undefined), {
    message: "a rerun takes its parent's input; give no input or inputKey",
    path: ['rerun'],
  });
export type StartRunRequest = z.infer<typeof StartRunRequestSchema>;

/** The STEP_REUSED event lists at most this many steps (every reused step item says so itself). */
const LISTED_REUSED = 100;

/**
 * StartRun writes a plan's step items in slices of this many, each followed by a checkpoint
 * on the run item: a plan too big for one invocation (on AWS each of a run's partition keys
 * takes 1,000 write units a second, docs/scaling.md) goes on in the next StartRun.
 */
export const PLAN_SLICE_ITEMS = 2_000;

/**
 * StartRun's answer when its invocation ran out of time writing the plan: the state machine
 * runs StartRun again with `resume` (the request, naming the run).
 */
export interface StartResumption {
  readonly runId: string;
  readonly status: typeof RunStatus.STARTING;
  readonly resume: StartRunRequest & { readonly runId: string };
  readonly stepsWritten: number;
  readonly stepCount: number;
}

export function isStartResumption(
  answer: PollState | StartResumption | QueuedStart,
): answer is StartResumption {
  return 'resume' in answer;
}

export interface StartOptions {
  /** Epoch ms by which this invocation must answer; a plan not written by then resumes. */
  readonly deadline?: number;
  /** Poll ticks per execution before continue-as-new (PollSettings.maxTicks): a queued run's asks count too. */
  readonly maxTicks?: number;
  /** A queued run's asks so far in this execution, and its generation (lib/run/runQueue.ts). */
  readonly queue?: QueueProgress;
}

/** Inputs up to this size live inline in the run item; larger ones in S3. */
const INLINE_INPUT_BYTES = 32 * 1024;
export const MAX_INPUT_BYTES = 10 * 1024 * 1024;

/**
 * StartRun: validate the request and the job's input, write the run and its steps,
 * dispatch the root steps. Safe to retry: each phase is keyed by the run id and
 * guarded by the run's status (STARTING until the roots are dispatched).
 */
export async function startRun(
  deps: Deps,
  raw: unknown,
  executionArn?: string,
  options: StartOptions = {},
): Promise<PollState | StartResumption | QueuedStart> {
  const maxTicks = options.maxTicks ?? DEFAULT_MAX_POLL_TICKS;
  if (isContinuation(raw)) {
    // A queued run handed over to this execution asks for its slot from here.
    const queuedAsk = await continueQueued(deps, raw, executionArn);
    if (!queuedAsk) return continueRun(deps, raw, executionArn);
    return startRun(deps, queuedAsk, executionArn, options);
  }
  if (isQueuedAsk(raw)) {
    const { queuedRun, ...queue } = queuedAskOf(raw);
    const stillQueued = await askAgain(deps, queuedRun, { ...queue, maxTicks });
    if (stillQueued) return stillQueued;
    // Admitted (or canceled meanwhile): the start goes on as a retried StartRun would.
    return startRun(deps, queuedRun, executionArn, { ...options, queue });
  }
  const request = parseRequest(StartRunRequestSchema, raw, 'run request');
  const job = deps.registry.get(request.job);
  const rerun = request.rerun ? await prepareStartRerun(deps, request) : undefined;
  const rawInput = rerun
    ? rerun.input
    : request.inputKey
      ? await deps.payloads.getJson(request.inputKey)
      : request.input;
  const inputJson = JSON.stringify(rawInput ?? {});
  const inputBytes = Buffer.byteLength(inputJson);
  if (inputBytes > MAX_INPUT_BYTES) throw new PayloadTooLargeError('run input', inputBytes, MAX_INPUT_BYTES);
  const input = job.parseInput(rawInput);
  const plan = rerun?.plan ?? job.plan(input);
  deps.dispatcher.checkRouting(plan);

  // A client token alone (a schedule's tick) names the run too: a tick delivered twice is one run.
  const runId =
    request.runId ?? (request.clientToken ? runIdForClientToken(job.name, request.clientToken) : newRunId());
  const started = new Date();
  const now = started.toISOString();
  // The run's items expire with its artifacts (the bucket's lifecycle): lib/run/retention.ts.
  const retentionDays = deps.config.retentionDays;
  const expiresAt = retentionDays === undefined ? undefined : expiryOf(started, retentionDays);
  const inline = inputBytes <= INLINE_INPUT_BYTES;
  // A rerun of a run with a large input points at the parent's (immutable) input object.
  const inputKey = inline ? undefined : (rerun?.parent.inputKey ?? s3Keys.runInput(runId));
  if (inputKey && inputKey !== rerun?.parent.inputKey) await deps.payloads.putText(inputKey, inputJson);
  const reused = rerun?.reuse.reused.size ?? 0;
  const priority = request.priority ?? rerun?.parent.priority;
  // Over its job's maxConcurrentRuns, the run is created QUEUED and starts once it has a slot.
  const runLimit = job.runLimit(input);

  const run: RunRecord = {
    runId,
    job: job.name,
    status: runLimit ? RunStatus.QUEUED : RunStatus.STARTING,
    stepCount: plan.order.length,
    succeeded: reused,
    failed: 0,
    skipped: 0,
    createdAt: now,
    updatedAt: now,
    ...(inline ? { input } : { inputKey }),
    ...(executionArn ? { executionArn } : {}),
    ...(request.clientToken ? { clientToken: request.clientToken } : {}),
    ...(request.parentRunId ? { parentRunId: request.parentRunId } : {}),
    ...(rerun ? { reused } : {}),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(priority === undefined ? {} : { priority }),
    ...(runLimit ? { runLimit: { ...runLimit, queuedSince: started.getTime() } } : {}),
  };
  const created = await deps.store.createRun(run);
  let current = created.ok ? created.item : created.current;
  if (!current) throw new RunVanishedError(runId);
  if (current.job !== job.name) {
    throw new RunConflictError(runId, `already exists as a run of job '${current.job}', not '${job.name}'`);
  }
  // A retried StartRun keeps the expiry the run was created with.
  const runExpiry = current.expiresAt;
  let slotUntil: number | undefined;
  if (current.status === RunStatus.QUEUED) {
    const ask = await askForRunSlot(deps, current, created.ok);
    if (!ask.admitted && ask.run.status === RunStatus.QUEUED)
      return queuedStart(deps, ask.run, ask, request, created.ok, { asks: 0, generation: 0, maxTicks });
    current = ask.run;
    slotUntil = ask.admitted ? ask.slotUntil : undefined;
  }

  if (current.status === RunStatus.STARTING) {
    const { steps, shards, roots } = initialSteps(runId, plan, now, rerun?.reuse);
    if (!current.stepsWritten) {
      // Nothing is dispatched yet, so (re)writing step items is safe; the slices already
      // checkpointed are not written again.
      for (let from = current.stepsWrittenCount ?? 0; ; from += PLAN_SLICE_ITEMS) {
        const to = Math.min(steps.length, from + PLAN_SLICE_ITEMS);
        await deps.store.putSteps(
          steps.slice(from, to),
          from === 0 ? shards : [],
          runExpiry,
          // The counter items go with the first slice: before any step can count.
          from === 0 ? { runCounters: runId } : {},
        );
        const done = to === steps.length;
        const marked = await deps.store.setRunStatus(
          runId,
          [RunStatus.STARTING],
          RunStatus.STARTING,
          done ? { stepsWritten: true } : { stepsWrittenCount: to },
        );
        if (!marked.ok) break;
        current = marked.item;
        if (done) break;
        // At least one slice per invocation, so a resumed StartRun always gets further.
        if (options.deadline !== undefined && Date.now() >= options.deadline) {
          deps.log.info('run plan partly written; StartRun goes on in its next invocation', {
            runId,
            written: to,
            steps: steps.length,
          });
          return {
            runId,
            status: RunStatus.STARTING,
            resume: { ...request, runId },
            stepsWritten: to,
            stepCount: steps.length,
          };
        }
      }
    }
    // A retried StartRun (its first try died after dispatching) sends the roots again and
    // leaves the steps as they are, some maybe done by now: a root's second message is a
    // duplicate delivery, which the claim and the idempotency key absorb.
    await dispatchFirstAttempts(
      deps,
      {
        runId,
        job: job.name,
        input,
        ...(runExpiry === undefined ? {} : { expiresAt: runExpiry }),
        ...(current.priority === undefined ? {} : { priority: current.priority }),
      },
      plan,
      roots,
    );
    const moved = await deps.store.setRunStatus(runId, [RunStatus.STARTING], RunStatus.RUNNING);
    if (moved.ok) {
      current = moved.item;
      await deps.store.appendEvent(
        {
          runId,
          type: EventType.RUN_START,
          message: rerun
            ? `rerun of '${job.name}' (parent ${rerun.parent.runId}) started: ${plan.order.length - reused} step(s) to run, ${reused} reused`
            : `run of '${job.name}' started with ${plan.order.length} step(s)`,
          data: {
            steps: plan.order.length,
            roots: roots.length,
            ...(rerun ? { parentRunId: rerun.parent.runId, reused } : {}),
            ...(executionArn ? { executionArn } : {}),
          },
        },
        runExpiry,
      );
      if (rerun && reused > 0) {
        const keys = [...rerun.reuse.reused.keys()];
        await deps.store.appendEvent(
          {
            runId,
            type: EventType.STEP_REUSED,
            message: `${reused} step(s) reuse the outputs of run ${rerun.parent.runId}: ${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', …' : ''}`,
            data: { parentRunId: rerun.parent.runId, count: reused, steps: keys.slice(0, LISTED_REUSED) },
          },
          runExpiry,
        );
      }
    } else if (moved.current) {
      current = moved.current;
    }
  }
  deps.log.info('run started', { runId, job: job.name, steps: plan.order.length });
  return {
    runId,
    status: current.status === RunStatus.STARTING ? RunStatus.RUNNING : current.status,
    waitSeconds: MIN_WAIT_SECONDS,
    progress: current.succeeded + current.failed + current.skipped,
    idleSeconds: 0,
    // A queued run's asks filled some of this execution's history already.
    ticks: (options.queue?.asks ?? 0) * TICKS_PER_QUEUED_ASK,
    ...(options.queue?.generation ? { generation: options.queue.generation } : {}),
    polledAt: Date.now(),
    ...(slotUntil === undefined ? {} : { runSlotUntil: slotUntil }),
  };
}

/** A rerun request: the parent must be a finished run of the same job (lib/run/rerun.ts says what runs). */
async function prepareStartRerun(deps: Deps, request: StartRunRequest): Promise<PreparedRerun> {
  const parentRunId = request.parentRunId as string;
  const prepared = await prepareRerun(deps, parentRunId, request.rerun ?? {});
  if (prepared.parent.job !== request.job) {
    throw new InvalidInputError(
      `rerun of run '${parentRunId}': it is a run of job '${prepared.parent.job}', not '${request.job}'`,
    );
  }
  return prepared;
}
