import { type ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import type { LambdagConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { encodeStepMessage, type StepMessage } from './messages.ts';
import type { PayloadStore } from './payload.ts';

/** The container override that carries the step attempt to ecs/main.ts. */
export const STEP_MESSAGE_ENV = 'LAMBDAG_STEP_MESSAGE';

/** ECS caps a RunTask's container overrides at 8 KiB: larger step messages go by claim check. */
const MAX_OVERRIDE_BYTES = 6 * 1024;

/**
 * Starts ECS tasks for `runtime: 'ecs'` steps. The step's message still travels through
 * its SQS queue (delays, redelivery and the DLQ work as for any step); the worker that
 * receives it calls `launch` instead of running the step, and the task runs the same
 * idempotent step runner as the worker (ecs/main.ts). A duplicate delivery may start a
 * second task for the attempt; the attempt's idempotency record lets only one run it.
 */
export class EcsLauncher {
  constructor(
    private readonly ecs: ECSClient,
    private readonly config: LambdagConfig,
    private readonly payloads: PayloadStore,
  ) {}

  async launch(message: StepMessage): Promise<string> {
    const ecs = this.config.ecs;
    if (!ecs) {
      throw new ConfigError(
        'LAMBDAG_ECS_CLUSTER',
        `is not set, but step '${message.step}' of job '${message.job}' has runtime 'ecs'`,
      );
    }
    const options = message.ecs ?? {};
    const body = await encodeStepMessage(message, this.payloads, MAX_OVERRIDE_BYTES);
    const out = await this.ecs.send(
      new RunTaskCommand({
        cluster: ecs.cluster,
        taskDefinition: ecs.taskDefinition,
        launchType: ecs.launchType,
        count: 1,
        startedBy: `lambdag/${message.runId}`.slice(0, 36),
        ...(ecs.subnets.length
          ? {
              networkConfiguration: {
                awsvpcConfiguration: {
                  subnets: [...ecs.subnets],
                  securityGroups: [...ecs.securityGroups],
                  assignPublicIp: 'DISABLED',
                },
              },
            }
          : {}),
        overrides: {
          containerOverrides: [
            {
              name: ecs.container,
              environment: [{ name: STEP_MESSAGE_ENV, value: body }],
              ...(options.cpu ? { cpu: options.cpu } : {}),
              ...(options.memoryMb ? { memory: options.memoryMb } : {}),
            },
          ],
          ...(options.cpu ? { cpu: String(options.cpu) } : {}),
          ...(options.memoryMb ? { memory: String(options.memoryMb) } : {}),
        },
      }),
    );
    const task = out.tasks?.[0]?.taskArn;
    if (!task) {
      const reasons = (out.failures ?? []).map((f) => `${f.arn ?? ''} ${f.reason ?? ''}`.trim()).join('; ');
      throw new Error(`ECS did not start a task for step '${message.step}': ${reasons || 'no reason given'}`);
    }
    return task;
  }
}
