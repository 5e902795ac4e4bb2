/**
 * The lambdag container's entrypoint: runs the one step attempt in LAMBDAG_STEP_MESSAGE
 * (set by RunTask's container overrides) and exits: 0 when the attempt ended (succeeded,
 * failed, retry scheduled), 1 when it could not be processed (the step then goes stale and
 * reconciliation sends it again).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { registry } from '../handlers/registry.ts';
import { createDeps } from '../lib/deps.ts';
import { STEP_MESSAGE_ENV } from '../lib/ecsLauncher.ts';
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
  const outcome = await runStepTask(createDeps(registry, { log }), body, {
    heartbeatMs: Number(process.env.LAMBDAG_ECS_HEARTBEAT_SECONDS ?? 30) * 1000,
    stop: stop.signal,
  });
  log.info('step attempt ended', { ...outcome });
  process.exit(0);
} catch (error) {
  log.error('step attempt could not be processed', { error });
  process.exit(1);
}
