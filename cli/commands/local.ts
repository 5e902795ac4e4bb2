import { LocalStackError } from '../../lib/errors.ts';
import { startLocalStack } from '../../local/stack.ts';
import { bold, dim } from '../format.ts';
import { clearState, dataDir, readLiveState, stateDir, writeState } from '../localState.ts';

/** `lambdag local up`: a long-lived local stack; its DynamoDB state is kept on disk. */
export async function localUpCommand(options: { dir?: string }): Promise<number> {
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (live)
    throw new LocalStackError(
      `a local stack is already running (pid ${live.pid}); stop it with 'lambdag local down'`,
    );
  // A long-lived stack fires the jobs' schedules, as EventBridge Scheduler does when deployed.
  const stack = await startLocalStack({ dataDir: dataDir(dir), quiet: true, schedules: true });
  writeState(dir, {
    pid: process.pid,
    env: stack.env,
    stateMachineArn: stack.stateMachineArn,
    startedAt: new Date().toISOString(),
  });
  process.stdout.write(
    [
      `${bold('lambdag local stack is up')} (pid ${process.pid}, state in ${dir})`,
      ...Object.entries(stack.env)
        .filter(([name]) => name.startsWith('AWS_ENDPOINT_URL_'))
        .map(([name, url]) => `  ${name}=${url}`),
      `  AWS_ACCESS_KEY_ID=${stack.env.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${stack.env.AWS_SECRET_ACCESS_KEY} (the stack's admin key; the functions sign as their own roles)`,
      `  state machine: ${stack.stateMachineArn}`,
      ...(stack.scheduler?.upcoming() ?? []).map(
        (s) => `  schedule ${s.job}/${s.schedule}: ${s.expression}, next at ${s.next}`,
      ),
      dim('Run jobs from another shell: npx lambdag run diamond --input \'{"x":1}\' --wait'),
      dim('Stop with Ctrl-C or: npx lambdag local down'),
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await stack.stop();
  clearState(dir);
  process.stdout.write('local stack stopped\n');
  return 0;
}

export async function localDownCommand(options: { dir?: string }): Promise<number> {
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (!live) {
    process.stdout.write('no local stack is running\n');
    return 0;
  }
  process.kill(live.pid, 'SIGTERM');
  for (let i = 0; i < 100 && readLiveState(dir); i++) await new Promise((r) => setTimeout(r, 100));
  if (readLiveState(dir)) throw new LocalStackError(`local stack (pid ${live.pid}) did not stop within 10s`);
  process.stdout.write(`local stack (pid ${live.pid}) stopped\n`);
  return 0;
}
