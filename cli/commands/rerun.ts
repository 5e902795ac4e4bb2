import { InvalidInputError, LocalStackError } from '../../lib/errors.ts';
import { bold } from '../format.ts';
import { type TargetOptions, withTarget } from '../target.ts';
import { followRun } from './run.ts';

export interface RerunCommandOptions extends TargetOptions {
  readonly fromFailure?: boolean;
  /** Comma-separated step keys. */
  readonly steps?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
}

/**
 * `lambdag rerun RUN --from-failure | --steps a,b`: a new run of RUN's job and input that
 * reuses the outputs of RUN's succeeded steps. Waiting and printing are `run`'s.
 */
export async function rerunCommand(runId: string, options: RerunCommandOptions): Promise<number> {
  const steps = parseSteps(options.steps);
  return withTarget(options, async (target) => {
    if (target.ephemeral) {
      // Its S3 lives in memory and died with the command that ran the parent: the outputs
      // a rerun reuses are gone, and its steps would fail reading them.
      throw new LocalStackError(
        "rerun needs the parent run's outputs, which a one-shot local stack does not keep; start a stack with 'lambdag local up' and run the job there",
      );
    }
    const started = Date.now();
    const parent = await target.client.getRun(runId);
    const rerun = await target.client.rerun(runId, {
      ...(options.fromFailure ? { fromFailure: true } : {}),
      ...(steps ? { steps } : {}),
    });
    if (!options.json) {
      process.stderr.write(
        `${bold('▶')} run ${bold(rerun.runId)} of ${parent.job}, a rerun of ${runId}, on ${target.description}\n`,
      );
    }
    return followRun(target, rerun.runId, parent.job, options, started);
  });
}

function parseSteps(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const steps = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (steps.length === 0)
    throw new InvalidInputError(`--steps '${text}' names no step; give step keys like a,b`);
  return steps;
}
