/**
 * The lambdag container's entrypoint: runs the one step attempt in LAMBDAG_STEP_MESSAGE
 * (set by RunTask's container overrides) and exits: 0 when the attempt ended (succeeded,
 * failed, retry scheduled), 1 when it could not be processed (PollRun then finds the task
 * stopped without a result and sends the attempt again), 2 when it has nothing to run.
 */
import { pathToFileURL } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { registry as bundled } from '../examples/registry.ts';
import { readEcsTaskSettings } from '../lib/aws/config.ts';
import { createDeps } from '../lib/deps.ts';
import { STEP_MESSAGE_ENV } from '../lib/ecs/tasks.ts';
import { ConfigError } from '../lib/errors.ts';
import type { JobRegistry } from '../lib/job/registry.ts';
import { taskArnOf } from './metadata.ts';
import { runStepTask } from './task.ts';

const log = new Logger({ serviceName: 'lambdag-ecs' });
const body = process.env[STEP_MESSAGE_ENV];
if (!body) {
  log.error(`${STEP_MESSAGE_ENV} is not set: nothing to run`);
  process.exit(2);
}

const stop = new AbortController();
process.once('SIGTERM', () => {
  log.warn('SIGTERM: stopping the step');
  stop.abort();
});

try {
  const settings = readEcsTaskSettings();
  const taskArn = await taskArnOf(process.env);
  const outcome = await runStepTask(createDeps(await loadRegistry(settings.registryModule), { log }), body, {
    heartbeatMs: settings.heartbeatMs,
    stop: stop.signal,
    ...(taskArn ? { taskArn } : {}),
  });
  log.info('step attempt ended', { ...outcome, taskArn });
  process.exit(0);
} catch (error) {
  log.error('step attempt could not be processed', { error });
  process.exit(1);
}

/**
 * The jobs: the bundled registry, or the module LAMBDAG_REGISTRY_MODULE names (exporting
 * `registry`): how the embedded stack's tasks run the jobs its in-process handlers run.
 */
async function loadRegistry(path: string | undefined): Promise<JobRegistry> {
  if (!path) return bundled;
  const module = (await import(pathToFileURL(path).href)) as { registry?: JobRegistry };
  if (!module.registry) throw new ConfigError('LAMBDAG_REGISTRY_MODULE', `${path} exports no 'registry'`);
  return module.registry;
}
