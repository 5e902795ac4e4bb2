/**
 * A key a job gives as a constant or as a function of the run's input (a concurrency key, a
 * run limit's key, a fairness key): its value for this input, unchecked. A function that
 * throws is reported through `fail`, with why, so each option names itself in the error.
 */
export function keyForInput(option: unknown, input: unknown, fail: (why: string) => never): unknown {
  if (typeof option !== 'function') return option;
  try {
    return (option as (input: unknown) => unknown)(input);
  } catch (error) {
    return fail(`function threw for this run's input: ${(error as Error).message}`);
  }
}
