import { MAX_WAIT_SECONDS, MIN_WAIT_SECONDS, nextWaitSeconds, paceOf } from '../lib/runState.ts';

/**
 * The run state machine's poll loop replayed on a run's real progress (its steps' finish
 * times), as it would go on AWS, where each Wait lasts the seconds PollRun asked for (the
 * embedded stack shortens every Wait to 250 ms, so its own histories say little about AWS).
 * Deterministic: the same finish times give the same polls.
 */

/** What a policy sees at a poll: how far the run is, and how far it was at the previous one. */
export interface PollView {
  readonly progress: number;
  readonly previousProgress: number;
  readonly stepCount: number;
  /** Seconds since the previous poll. */
  readonly intervalSeconds: number;
}

export type WaitPolicy = (previousWait: number, view: PollView) => number;

/** lib/runState.ts as deployed: doubling, capped by the run's estimated time to finish. */
export const currentPolicy: WaitPolicy = (previous, view) =>
  nextWaitSeconds(
    previous,
    paceOf(
      { progress: view.previousProgress, polledAt: 0 },
      { progress: view.progress, stepCount: view.stepCount, at: view.intervalSeconds * 1000 },
    ),
  );

/** The policy before (commit 9a1f970): back to the minimum on any progress, doubling while idle. */
export const resetOnProgressPolicy: WaitPolicy = (previous, view) =>
  view.progress !== view.previousProgress
    ? MIN_WAIT_SECONDS
    : Math.min(MAX_WAIT_SECONDS, Math.max(MIN_WAIT_SECONDS, previous * 2));

export interface PollReplay {
  readonly polls: number;
  /** *StateEntered events of a successful run: StartRun, IsRunDone, 3 a poll, FinalizeRun, RunOutcome, RunSucceeded. */
  readonly transitions: number;
  /** Seconds from the last step's finish to the poll that saw the run done. */
  readonly detectionDelaySeconds: number;
}

/** Replay the poll loop over steps finishing at `finishSeconds` (from the run's start). */
export function replayPolls(finishSeconds: readonly number[], policy: WaitPolicy): PollReplay {
  const finishes = [...finishSeconds].sort((a, b) => a - b);
  const stepCount = finishes.length;
  const done = (t: number) => {
    let n = 0;
    while (n < stepCount && (finishes[n] ?? Infinity) <= t) n++;
    return n;
  };
  let t = 0;
  let wait = MIN_WAIT_SECONDS;
  let previousProgress = done(0);
  let previousT = 0;
  let polls = 0;
  for (;;) {
    t += wait;
    polls++;
    const progress = done(t);
    if (progress >= stepCount) break;
    wait = policy(wait, { progress, previousProgress, stepCount, intervalSeconds: t - previousT });
    previousProgress = progress;
    previousT = t;
  }
  return {
    polls,
    transitions: 5 + 3 * polls,
    detectionDelaySeconds: Number((t - (finishes.at(-1) ?? 0)).toFixed(3)),
  };
}
