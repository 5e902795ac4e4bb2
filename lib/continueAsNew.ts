import { z } from 'zod';
import type { Deps } from './deps.ts';
import { ConfigError, InvalidInputError } from './errors.ts';
import { type PollState, PollStateSchema } from './runState.ts';
import { EventType } from './status.ts';

/**
 * A standard execution's history holds at most 25,000 events, and each poll tick
 * adds about nine (Wait entered/exited, Task entered/scheduled/started/succeeded/
 * exited, Choice entered/exited). Before the cap, PollRun asks the state machine to
 * hand the run over to a fresh execution of itself (continue-as-new); the new
 * execution picks the run up where this one left it. 2,000 ticks is about 18,000
 * events, leaving room for retries; at the longest wait (30 s) that is over 16 hours
 * per execution, and a run may chain as many executions as it needs.
 */
export const DEFAULT_MAX_POLL_TICKS = 2_000;

/** The input of the execution that continues a run: `{"continueRun": <poll state>}`. */
export const ContinueRunRequestSchema = z.object({ continueRun: PollStateSchema });

export function isContinuation(raw: unknown): raw is { continueRun: unknown } {
  return typeof raw === 'object' && raw !== null && 'continueRun' in raw;
}

/** Should this execution hand the run over instead of polling again? */
export function handOverDue(state: PollState, maxTicks: number): boolean {
  return state.ticks >= maxTicks;
}

/** PollRun's answer when the hand-over is due: the next execution's generation, named by the ASL. */
export function handOver(state: PollState): PollState {
  return { ...state, handOver: true, generation: (state.generation ?? 0) + 1 };
}

/**
 * StartRun of a continuing execution: nothing is created or dispatched; the run
 * is linked to this execution and polling resumes with a fresh tick budget.
 */
export async function continueRun(deps: Deps, raw: unknown, executionArn?: string): Promise<PollState> {
  const parsed = ContinueRunRequestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidInputError(
      'continue-as-new request is invalid',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(request)'}: ${i.message}`),
    );
  }
  const { handOver: _done, ...state } = parsed.data.continueRun;
  const run = await deps.store.requireRun(state.runId);
  if (executionArn) await deps.store.linkExecution(run.runId, executionArn);
  await deps.store.appendEvent(
    {
      runId: run.runId,
      type: EventType.RUN_CONTINUED,
      message: `run handed over to a new execution (generation ${state.generation ?? 0}) after ${state.ticks} poll ticks`,
      data: {
        generation: state.generation ?? 0,
        ticks: state.ticks,
        ...(executionArn ? { executionArn } : {}),
      },
    },
    run.expiresAt,
  );
  return { ...state, ticks: 0 };
}

export function maxPollTicksFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.LAMBDAG_MAX_POLL_TICKS;
  if (raw === undefined || raw === '') return DEFAULT_MAX_POLL_TICKS;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError('LAMBDAG_MAX_POLL_TICKS', `must be a positive integer, got '${raw}'`);
  }
  return value;
}
