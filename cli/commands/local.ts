import { LocalStackError } from '../../lib/errors.ts';
import { startDeployTarget } from '../../local/deployTarget.ts';
import { startLocalStack } from '../../local/stack.ts';
import { bold, dim } from '../format.ts';
import { clearState, dataDir, readLiveState, stateDir, writeState } from '../localState.ts';
import { sayPackaging } from '../target.ts';

/** LocalStack's edge port: serverless-localstack sends there when AWS_ENDPOINT_URL is not set. */
const EDGE_PORT = 4566;

/** `lambdag local up`: a long-lived local stack; its DynamoDB state is kept on disk. */
export async function localUpCommand(options: {
  dir?: string;
  empty?: boolean;
  port?: string;
}): Promise<number> {
  const dir = stateDir(options.dir);
  const live = readLiveState(dir);
  if (live)
    throw new LocalStackError(
      `a local stack is already running (pid ${live.pid}); stop it with 'lambdag local down'`,
    );
  if (options.empty) return emptyUp(dir, options.port === undefined ? EDGE_PORT : Number(options.port));
  // A long-lived stack fires the jobs' schedules, as EventBridge Scheduler does when deployed.
  const stack = await startLocalStack({
    dataDir: dataDir(dir),
    quiet: true,
    schedules: true,
    onPackaging: sayPackaging,
  });
  writeState(dir, {
    pid: process.pid,
    kind: 'stack',
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

/**
 * `lambdag local up --empty`: an empty account that `sls deploy --stage local` deploys into
 * (local/deployTarget.ts), in the foreground until Ctrl-C or `lambdag local down`. Its state
 * names its endpoint, so the other commands reach the stage deployed into it.
 */
async function emptyUp(dir: string, port: number): Promise<number> {
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new LocalStackError(`--port must be a port number, not ${port}`);
  const target = await startDeployTarget({ port }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new LocalStackError(`port ${port} is in use (LocalStack?); choose another with --port`);
    throw error;
  });
  writeState(dir, {
    pid: process.pid,
    kind: 'account',
    env: target.env,
    startedAt: new Date().toISOString(),
  });
  const endpointNote = port === EDGE_PORT ? '' : ` AWS_ENDPOINT_URL=${target.endpoint}`;
  process.stdout.write(
    [
      `${bold('lambdag local account is up')} (pid ${process.pid}): every AWS API on ${target.endpoint}`,
      `  AWS_ENDPOINT_URL=${target.endpoint} AWS_ACCESS_KEY_ID=${target.env.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${target.env.AWS_SECRET_ACCESS_KEY} (the admin key)`,
      `  functions unzip and log under ${target.workDir}`,
      dim(`Deploy from another shell:${endpointNote} npx sls deploy --stage local`),
      dim('Then run jobs: npx lambdag run diamond --input \'{"x":1}\' --wait'),
      dim('Stop with Ctrl-C or: npx lambdag local down'),
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await target.stop();
  clearState(dir);
  process.stdout.write('local account stopped\n');
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
