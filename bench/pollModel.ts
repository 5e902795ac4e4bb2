import { MAX_WAIT_SECONDS, MIN_WAIT_SECONDS, nextWaitSeconds, paceOf } from '../lib/run/pollPolicy.ts';

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

/** lib/run/pollPolicy.ts as deployed: doubling, capped by the run's estimated time to finish. */
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
  /** PollRun invocations. */
  readonly polls: number;
  /** *StateEntered events of a successful run: StartRun, IsRunDone, 3 a poll, FinalizeRun, RunOutcome, RunSucceeded. */
  readonly transitions: number;
  /** Seconds from the last step's finish to the poll that saw the run done. */
  readonly detectionDelaySeconds: number;
  /** Seconds PollRun spent watching the run inside its invocations (billed Lambda time). */
  readonly watchedSeconds: number;
}

/** PollRun's watch (lib/run/poll.ts): seconds of waits per invocation it waits out itself, and how often it looks. */
export interface WatchModel {
  readonly watchSeconds: number;
  readonly checkSeconds: number;
}

/** PollRun as deployed: LAMBDAG_POLL_WATCH_SECONDS and LAMBDAG_POLL_WATCH_CHECK_MS defaults. */
export const DEPLOYED_WATCH: WatchModel = { watchSeconds: 15, checkSeconds: 0.5 };

/** Replay the poll loop over steps finishing at `finishSeconds` (from the run's start). */
export function replayPolls(
  finishSeconds: readonly number[],
  policy: WaitPolicy,
  watchModel: WatchModel = { watchSeconds: 0, checkSeconds: 1 },
): PollReplay {
  const finishes = [...finishSeconds].sort((a, b) => a - b);
  const stepCount = finishes.length;
  const last = finishes.at(-1) ?? 0;
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
  let watched = 0;
  /** PollRun's look at the run at time t: true when it sees it done; else the next wait. */
  const observe = () => {
    const progress = done(t);
    if (progress >= stepCount) return true;
    wait = policy(wait, { progress, previousProgress, stepCount, intervalSeconds: t - previousT });
    previousProgress = progress;
    previousT = t;
    return false;
  };
  for (;;) {
    t += wait;
    polls++;
    if (observe()) break;
    let budget = watchModel.watchSeconds;
    let seen = false;
    while (!seen && wait <= budget) {
      budget -= wait;
      const end = t + wait;
      if (last <= end) {
        // It ends during this wait: seen at the first look after it, or at the wait's end.
        const looks = Math.ceil((last - t) / watchModel.checkSeconds);
        const at = Math.min(end, t + Math.max(1, looks) * watchModel.checkSeconds);
        watched += at - t;
        t = at;
        seen = true;
      } else {
        watched += wait;
        t = end;
        seen = observe();
      }
    }
    if (seen) break;
  }
  return {
    polls,
    transitions: 5 + 3 * polls,
    detectionDelaySeconds: Number((t - last).toFixed(3)),
    watchedSeconds: Number(watched.toFixed(3)),
  };
}
