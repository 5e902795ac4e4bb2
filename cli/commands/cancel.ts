import { bold } from '../format.ts';
import { type TargetOptions, withTarget } from '../target.ts';
import { followRun, print } from './run.ts';

export interface CancelOptions extends TargetOptions {
  readonly reason?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
}

/**
 * `lambdag cancel RUN`: ask the run to stop. Exit 0 when the cancel was requested or was
 * a no-op (the run had already finished: the message says so, nothing changes). With
 * `--wait`, once requested, wait for the run to end: exit 1 when it ends CANCELED.
 */
export async function cancelCommand(runId: string, options: CancelOptions): Promise<number> {
  return withTarget(options, async (target) => {
    const started = Date.now();
    const result = await target.client.cancelRun(runId, options.reason ? { reason: options.reason } : {});
    if (!options.wait || !result.requested) {
      if (options.json) print(result);
      else process.stdout.write(`${result.message}\n`);
      return 0;
    }
    if (!options.json) process.stderr.write(`${bold('■')} ${result.message}\n`);
    return followRun(target, runId, result.job, { wait: true, json: options.json }, started);
  });
}
