import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Log } from '../lib/log.ts';
import { ApiServiceError, startJsonApiServer } from './jsonApiServer.ts';

/** An ECS API error as the SDK expects it. */
export class EcsServiceError extends ApiServiceError {
  override readonly name = 'EcsServiceError';
}

interface LocalTask {
  readonly taskArn: string;
  readonly clusterArn: string;
  readonly taskDefinitionArn: string;
  readonly startedBy?: string;
  readonly createdAt: Date;
  /** Absent while the task is held PENDING (`neverStartNext`). */
  readonly child?: ChildProcess;
  readonly exited: Promise<void>;
  lastStatus: 'PENDING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  stoppedReason?: string;
  stoppedAt?: Date;
}

export interface LocalEcsOptions {
  readonly region: string;
  readonly accountId: string;
  /** The project root: tasks run `<root>/ecs/main.ts`. */
  readonly root: string;
  /** Seconds between SIGTERM and SIGKILL on StopTask (ECS's stopTimeout, 30 s by default). */
  readonly stopTimeoutSeconds: number;
  /** Show the tasks' output (else it is discarded). */
  readonly verbose: boolean;
  readonly log: Log;
  /**
   * Every task's environment (the task definition's): the stack's endpoints and the functions'
   * settings, and the task role's credentials, as ECS hands a task its role.
   */
  readonly taskEnvironment?: Readonly<Record<string, string>>;
}

/**
 * ECS for the embedded stack: RunTask starts the lambdag entrypoint (ecs/main.ts) as a
 * child process with the stack's environment plus the task's container overrides;
 * DescribeTasks and ListTasks report it; StopTask sends SIGTERM, then SIGKILL after the stop timeout.
 * The dispatch code is the one that runs on AWS: it only sees the ECS API.
 */
export class LocalEcs {
  private readonly tasks = new Map<string, LocalTask>();
  /** How many of the next RunTasks stay PENDING, never starting (`neverStartNext`). */
  private held = 0;
  /** How a held task stops. */
  private readonly releases = new Map<string, () => void>();

  constructor(private readonly options: LocalEcsOptions) {}

  runTask(body: Record<string, unknown>): unknown {
    const cluster = String(body.cluster ?? 'default');
    const taskDefinition = String(body.taskDefinition ?? '');
    if (!taskDefinition) throw new EcsServiceError('InvalidParameterException', 'taskDefinition is required');
    const overrides = (body.overrides ?? {}) as {
      containerOverrides?: { environment?: { name: string; value: string }[] }[];
    };
    const environment: Record<string, string> = {};
    for (const container of overrides.containerOverrides ?? []) {
      for (const { name, value } of container.environment ?? []) environment[name] = value;
    }
    const { region, accountId } = this.options;
    const id = randomUUID().replaceAll('-', '');
    const taskArn = `arn:aws:ecs:${region}:${accountId}:task/${cluster}/${id}`;
    const hold = this.held > 0;
    if (hold) this.held--;
    const child = hold
      ? undefined
      : spawn(process.execPath, ['--import', 'tsx', join(this.options.root, 'ecs/main.ts')], {
          env: { ...inheritedEnv(), ...this.options.taskEnvironment, ...environment, ECS_TASK_ARN: taskArn },
          stdio: this.options.verbose ? 'inherit' : 'ignore',
        });
    const exited = new Promise<void>((resolve) => {
      const stopped = (exitCode: number | undefined, reason: string) => {
        task.lastStatus = 'STOPPED';
        if (exitCode !== undefined) task.exitCode = exitCode;
        task.stoppedAt = new Date();
        task.stoppedReason ??= reason;
        resolve();
      };
      if (!child) {
        this.releases.set(taskArn, () => stopped(undefined, 'Task stopped while PENDING'));
        return;
      }
      child.once('exit', (code, signal) => {
        const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        stopped(exitCode, signal ? `Task killed by ${signal}` : 'Essential container in task exited');
      });
      child.once('error', (error) => {
        this.options.log.error('could not start a local ECS task', { taskArn, error });
      });
    });
    const task: LocalTask = {
      taskArn,
      clusterArn: `arn:aws:ecs:${region}:${accountId}:cluster/${cluster}`,
      taskDefinitionArn: taskDefinition.startsWith('arn:')
        ? taskDefinition
        : `arn:aws:ecs:${region}:${accountId}:task-definition/${taskDefinition}`,
      ...(typeof body.startedBy === 'string' ? { startedBy: body.startedBy } : {}),
      createdAt: new Date(),
      ...(child ? { child } : {}),
      exited,
      lastStatus: child ? 'RUNNING' : 'PENDING',
    };
    this.tasks.set(taskArn, task);
    return { tasks: [describe(task)], failures: [] };
  }

  describeTasks(body: Record<string, unknown>): unknown {
    const arns = (body.tasks ?? []) as string[];
    const found = arns.map((arn) => this.tasks.get(arn));
    return {
      tasks: found.filter((t): t is LocalTask => t !== undefined).map(describe),
      failures: arns.filter((_, i) => !found[i]).map((arn) => ({ arn, reason: 'MISSING' })),
    };
  }

  listTasks(body: Record<string, unknown>): unknown {
    // desiredStatus RUNNING (the default) lists pending tasks too, as ECS does.
    const stopped = body.desiredStatus === 'STOPPED';
    const cluster = typeof body.cluster === 'string' ? `/${body.cluster}/` : undefined;
    return {
      taskArns: [...this.tasks.values()]
        .filter((t) => (t.lastStatus === 'STOPPED') === stopped && (!cluster || t.taskArn.includes(cluster)))
        .filter((t) => body.startedBy === undefined || t.startedBy === body.startedBy)
        .map((t) => t.taskArn),
    };
  }

  stopTask(body: Record<string, unknown>): unknown {
    const task = this.tasks.get(String(body.task ?? ''));
    if (!task) throw new EcsServiceError('InvalidParameterException', `The referenced task was not found.`);
    if (task.lastStatus !== 'STOPPED') {
      task.stoppedReason = typeof body.reason === 'string' ? body.reason : 'Task stopped by user';
      const child = task.child;
      if (!child) this.releases.get(task.taskArn)?.();
      else {
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutSeconds * 1000);
        kill.unref();
        void task.exited.then(() => clearTimeout(kill));
      }
    }
    return { task: describe(task) };
  }

  /** Kill a task's process with `signal`, as a crash or the OOM killer would (tests, simulations). */
  kill(taskArn: string, signal: NodeJS.Signals = 'SIGKILL'): void {
    const child = this.tasks.get(taskArn)?.child;
    if (!child) throw new EcsServiceError('InvalidParameterException', 'No running task has that ARN.');
    child.kill(signal);
  }

  /**
   * The next `count` tasks are accepted but never start (they stay PENDING until stopped),
   * as ECS now and then leaves a task: a fault for tests and simulations.
   */
  neverStartNext(count = 1): void {
    this.held += count;
  }

  /** The tasks started so far, newest last. */
  list(): readonly { taskArn: string; lastStatus: string; startedBy?: string }[] {
    return [...this.tasks.values()].map(({ taskArn, lastStatus, startedBy }) => ({
      taskArn,
      lastStatus,
      ...(startedBy ? { startedBy } : {}),
    }));
  }

  /** Kill every task still running (the stack is stopping) and wait for them to exit. */
  async stopAll(): Promise<void> {
    const running = [...this.tasks.values()].filter((t) => t.lastStatus !== 'STOPPED');
    for (const task of running) {
      if (task.child) task.child.kill('SIGKILL');
      else this.releases.get(task.taskArn)?.();
    }
    await Promise.all(running.map((t) => t.exited));
  }

  /** Serve RunTask, DescribeTasks, ListTasks and StopTask on 127.0.0.1 (AWS JSON 1.1, as the SDK speaks it). */
  serve(): Promise<{ server: Server; endpoint: string }> {
    return startJsonApiServer({
      name: 'ecs',
      targetPrefix: 'AmazonEC2ContainerServiceV20141113.',
      contentType: 'application/x-amz-json-1.1',
      operations: {
        RunTask: (body) => this.runTask(body),
        DescribeTasks: (body) => this.describeTasks(body),
        ListTasks: (body) => this.listTasks(body),
        StopTask: (body) => this.stopTask(body),
      },
      log: this.options.log,
    });
  }
}

function describe(task: LocalTask): Record<string, unknown> {
  const seconds = (date: Date | undefined) => (date ? date.getTime() / 1000 : undefined);
  return {
    taskArn: task.taskArn,
    clusterArn: task.clusterArn,
    taskDefinitionArn: task.taskDefinitionArn,
    lastStatus: task.lastStatus,
    desiredStatus: task.lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
    createdAt: seconds(task.createdAt),
    ...(task.child ? { startedAt: seconds(task.createdAt) } : {}),
    ...(task.startedBy ? { startedBy: task.startedBy } : {}),
    ...(task.stoppedAt ? { stoppedAt: seconds(task.stoppedAt), stoppedReason: task.stoppedReason } : {}),
    containers: [
      {
        name: 'step',
        lastStatus: task.lastStatus,
        ...(task.exitCode === undefined ? {} : { exitCode: task.exitCode }),
      },
    ],
  };
}

/**
 * What a task takes from this process's environment (PATH, NODE_OPTIONS, ...): not the
 * caller's own AWS session or profile, which would override the task role's key.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const { AWS_SESSION_TOKEN: _token, AWS_PROFILE: _profile, ...inherited } = process.env;
  return inherited;
}
