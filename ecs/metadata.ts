import { TaskMetadataError } from '../lib/errors.ts';

/**
 * This task's ARN. ECS gives every container the task metadata endpoint v4
 * (ECS_CONTAINER_METADATA_URI_V4, whose /task document has TaskARN); the embedded stack
 * sets ECS_TASK_ARN instead. Undefined when neither is there (run by hand).
 */
export async function taskArnOf(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (env.ECS_TASK_ARN) return env.ECS_TASK_ARN;
  const endpoint = env.ECS_CONTAINER_METADATA_URI_V4;
  if (!endpoint) return undefined;
  const response = await fetch(`${endpoint}/task`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new TaskMetadataError(response.status);
  const document = (await response.json()) as { TaskARN?: unknown };
  return typeof document.TaskARN === 'string' ? document.TaskARN : undefined;
}
