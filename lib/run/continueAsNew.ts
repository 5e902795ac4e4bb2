import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { EventType } from '../eventTypes.ts';
import { parseRequest } from './parseRequest.ts';
import { type PollState, PollStateSchema } from './pollPolicy.ts';

/** The input of the execution that continues a run: `{"continueRun": <poll state>}`. */
export const ContinueRunRequestSchema = z.object({ continueRun: PollStateSchema });

export function isContinuation(raw: unknown): raw is { continueRun: unknown } {
  return typeof raw === 'object' && raw !== null && 'continueRun' in raw;
}

/** Should this execution hand the run over instead of polling again? */
export function handOverDue(state: PollState, maxTicks: number): boolean {
  return state.ticks >= maxTicks;
}

/** PollRun's answer when the hand-over is due: the next execution's generation and name (the ASL's `Name.$`). */
export function handOver(state: PollState): PollState {
  const generation = (state.generation ?? 0) + 1;
  return {
    ...state,
    handOver: true,
    generation,
    nextExecutionName: continuationName(state.runId, generation),
  };
}

/** Step Functions execution names are 1-80 characters. */
export const MAX_EXECUTION_NAME = 80;

/**
 * The name of the execution that continues run `runId` as `generation`: `{runId}-g{n}`
 * when that fits in 80 characters; otherwise the run id cut short, a hash of the whole
 * run id (two long ids with one prefix still get different names) and the generation:
 * `{prefix}-{hash8}-g{n}`. A pure function of its arguments, so a retried ContinueAsNew
 * asks for the same name and its Catch of ExecutionAlreadyExists stays right. Run ids are
 * [0-9A-Za-z_-] (lib/run/ids.ts RUN_ID), characters every execution name may hold.
 */
export function continuationName(runId: string, generation: number): string {
  const plain = `${runId}-g${generation}`;
  if (plain.length <= MAX_EXECUTION_NAME) return plain;
  const hash = createHash('sha256').update(runId).digest('hex').slice(0, 8);
  const suffix = `-${hash}-g${generation}`;
  return `${runId.slice(0, MAX_EXECUTION_NAME - suffix.length)}${suffix}`;
}

/**
 * StartRun of a continuing execution: nothing is created or dispatched; the run
 * is linked to this execution and polling resumes with a fresh tick budget.
 */
export async function continueRun(deps: Deps, raw: unknown, executionArn?: string): Promise<PollState> {
  const { continueRun: request } = parseRequest(ContinueRunRequestSchema, raw, 'continue-as-new request');
  const { handOver: _done, nextExecutionName: _name, ...state } = request;
  await takeOver(deps, state.runId, executionArn, state.generation ?? 0, { ticks: state.ticks });
  return { ...state, ticks: 0 };
}

/** The run is linked to the execution that took it over, and its RUN_CONTINUED event says so. */
export async function takeOver(
  deps: Deps,
  runId: string,
  executionArn: string | undefined,
  generation: number,
  /** What filled the execution's history: poll ticks, or a queued run's asks for a slot. */
  after: { readonly ticks: number } | { readonly asks: number },
): Promise<void> {
  const run = await deps.store.requireRun(runId);
  if (executionArn) await deps.store.linkExecution(run.runId, executionArn);
  await deps.store.appendEvent(
    {
      runId: run.runId,
      type: EventType.RUN_CONTINUED,
      message: `run handed over to a new execution (generation ${generation}) after ${'ticks' in after ? `${after.ticks} poll ticks` : `${after.asks} asks for a run slot`}`,
      data: { generation, ...after, ...(executionArn ? { executionArn } : {}) },
    },
    run.expiresAt,
  );
}
