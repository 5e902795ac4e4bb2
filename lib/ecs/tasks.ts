import { DescribeTasksCommand, type ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import type { LambdagConfig } from '../aws/config.ts';
import { ConfigError, EcsLaunchError } from '../errors.ts';
import { encodeStepMessage, type StepMessage } from '../step/messages.ts';
import type { PayloadStore } from '../step/payload.ts';

/** The container override that carries the step attempt to ecs/main.ts. */
export const STEP_MESSAGE_ENV = 'LAMBDAG_STEP_MESSAGE';

/** ECS caps a RunTask's container overrides at 8 KiB: larger step messages go by claim check. */
const MAX_OVERRIDE_BYTES = 6 * 1024;

/** What PollRun needs to know of a task. `MISSING`: ECS does not know it (any more). */
export interface TaskState {
  readonly taskArn: string;
  readonly lastStatus: string;
  readonly createdAt?: Date;
  readonly startedAt?: Date;
  readonly stoppedReason?: string;
  readonly exitCode?: number;
}

const DESCRIBE_BATCH = 100;

/**
 * The ECS side of lambdag: starts tasks for steps that run on ECS, tells how they are, and
 * stops them. The step's message still travels through its SQS queue (delays, redelivery
 * and the DLQ work as for any step); the worker that receives it calls `launch` instead
 * of running the step, and the task runs the same idempotent step runner as the worker
 * (ecs/main.ts). A duplicate delivery may start a second task for the attempt; the
 * attempt's idempotency record lets only one run it. PollRun calls `describe` and `stop`
 * (lib/ecs/supervisor.ts).
 */
export class EcsTasks {
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
                  assignPublicIp: ecs.assignPublicIp,
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
      throw new EcsLaunchError(message.step, reasons || 'no reason given');
    }
    return task;
  }

  /** The tasks' states, by ARN; a task ECS no longer knows is `MISSING`. */
  async describe(taskArns: readonly string[]): Promise<Map<string, TaskState>> {
    const { cluster, container } = this.requireEcs();
    const states = new Map<string, TaskState>();
    for (let i = 0; i < taskArns.length; i += DESCRIBE_BATCH) {
      const batch = taskArns.slice(i, i + DESCRIBE_BATCH);
      const out = await this.ecs.send(new DescribeTasksCommand({ cluster, tasks: [...batch] }));
      for (const task of out.tasks ?? []) {
        if (!task.taskArn) continue;
        const exitCode = task.containers?.find((c) => c.name === container)?.exitCode;
        states.set(task.taskArn, {
          taskArn: task.taskArn,
          lastStatus: task.lastStatus ?? 'UNKNOWN',
          ...(task.createdAt ? { createdAt: task.createdAt } : {}),
          ...(task.startedAt ? { startedAt: task.startedAt } : {}),
          ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
          ...(exitCode === undefined ? {} : { exitCode }),
        });
      }
      for (const arn of batch) if (!states.has(arn)) states.set(arn, { taskArn: arn, lastStatus: 'MISSING' });
    }
    return states;
  }

  /** StopTask: SIGTERM to the task's container, SIGKILL after its stop timeout. */
  async stop(taskArn: string, reason: string): Promise<void> {
    const { cluster } = this.requireEcs();
    await this.ecs.send(new StopTaskCommand({ cluster, task: taskArn, reason: reason.slice(0, 255) }));
  }

  private requireEcs() {
    const ecs = this.config.ecs;
    if (!ecs) throw new ConfigError('LAMBDAG_ECS_CLUSTER', 'is not set, but a step runs on ECS');
    return ecs;
  }
}
