/**
 * Priorities (docs/concurrency.md, "Priorities"): a whole number from 0 (routine, the
 * default) to 9 (most urgent), per run and per step; a step's own wins over its run's. A
 * priority picks a band, and each band is a step queue with its own event source and
 * MaximumConcurrency, so urgent work never queues behind routine work. Within a band the
 * number does not order anything.
 */

export const Priority = { NORMAL: 'normal', HIGH: 'high' } as const;
/** The named priorities steps could always declare: `normal` is 0, `high` is HIGH_BAND_FROM. */
export type Priority = (typeof Priority)[keyof typeof Priority];

export const MIN_PRIORITY = 0;
export const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = MIN_PRIORITY;
/** Priorities from this one up are in the high band (the `high` step queue). */
export const HIGH_BAND_FROM = 5;

/** The bands, by the step queue each one routes to. */
export const PriorityBand = { NORMAL: 'default', HIGH: 'high' } as const;
export type PriorityBand = (typeof PriorityBand)[keyof typeof PriorityBand];

/** What a step or a run may say its priority is. */
export type PriorityOption = number | Priority;

/** Why `value` is not a priority; undefined when it is one (or is absent). */
export function priorityProblem(value: unknown): string | undefined {
  if (value === undefined || value === Priority.NORMAL || value === Priority.HIGH) return undefined;
  if (Number.isInteger(value) && (value as number) >= MIN_PRIORITY && (value as number) <= MAX_PRIORITY)
    return undefined;
  return `priority must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY} (or 'normal', 'high'), got ${JSON.stringify(value) ?? String(value)}`;
}

/** Why `value` is not a run's priority (a whole number, not a name); undefined when it is one. */
export function runPriorityProblem(value: unknown): string | undefined {
  if (Number.isInteger(value) && (value as number) >= MIN_PRIORITY && (value as number) <= MAX_PRIORITY)
    return undefined;
  return `priority must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY}, got ${JSON.stringify(value) ?? String(value)}`;
}

/** A checked priority option as its number. */
export function priorityNumber(option: PriorityOption): number {
  if (option === Priority.HIGH) return HIGH_BAND_FROM;
  if (option === Priority.NORMAL) return DEFAULT_PRIORITY;
  return option;
}

/** A step's effective priority: its own, else its run's, else the default. */
export function effectivePriority(step: PriorityOption | undefined, run: number | undefined): number {
  if (step !== undefined) return priorityNumber(step);
  return run ?? DEFAULT_PRIORITY;
}

/** The band a priority falls in. */
export const bandOf = (priority: number): PriorityBand =>
  priority >= HIGH_BAND_FROM ? PriorityBand.HIGH : PriorityBand.NORMAL;
