import type { Deps } from '../deps.ts';
import { StepStatus } from '../status.ts';
import type { StepMessage } from '../step/messages.ts';

/** What the worker did with an ECS step's message. */
export type HandOff =
  | { readonly taskArn: string; readonly duplicate?: true }
  /** The attempt is no longer QUEUED for a task (superseded, done, canceled): nothing launched. */
  | { readonly stale: true };

/**
 * The worker's part of a long step (one that runs on ECS): start an ECS task for the
 * attempt (lib/ecs/tasks.ts) and record it on the run, where PollRun supervises it
 * (lib/ecs/supervisor.ts); the task runs the attempt through the same runner (ecs/main.ts).
 * Only a QUEUED attempt gets a task: a duplicate delivery of one that a task already claimed
 * makes sure that task is supervised (the first delivery may have died before recording it),
 * and any other (stale) delivery is dropped.
 */
export async function handToEcs(deps: Deps, message: StepMessage): Promise<HandOff> {
  const { runId, step, attempt } = message;
  const current = await deps.store.getStep(runId, step);
  if (current?.attempt === attempt && current.status === StepStatus.RUNNING && current.taskArn) {
    await deps.store.trackTask(runId, { step, attempt, taskArn: current.taskArn });
    return { taskArn: current.taskArn, duplicate: true };
  }
  if (current?.attempt !== attempt || current.status !== StepStatus.QUEUED) {
    deps.log.info('stale ECS step message ignored', { runId, step, attempt, current: current?.status });
    return { stale: true };
  }
  const taskArn = await deps.ecsTasks.launch(message);
  await deps.store.trackTask(runId, { step, attempt, taskArn });
  deps.log.info('step handed to an ECS task', { runId, step, attempt, taskArn });
  return { taskArn };
}
