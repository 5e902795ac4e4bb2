/** One ECS task launched for one step attempt, as PollRun supervises it. */
export interface TaskEntry {
  readonly step: string;
  readonly attempt: number;
  readonly taskArn: string;
}

// Step keys have no spaces (lib/job/dag.ts), task ARNs have none either.
export const encodeTaskEntry = (e: TaskEntry) => `${e.step} ${e.attempt} ${e.taskArn}`;

export function decodeTaskEntry(text: string): TaskEntry | undefined {
  const [step, attempt, taskArn, ...rest] = text.split(' ');
  if (!step || !taskArn || rest.length > 0 || !Number.isInteger(Number(attempt))) return undefined;
  return { step, attempt: Number(attempt), taskArn };
}
