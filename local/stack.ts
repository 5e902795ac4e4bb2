/**
 * Over 400 lines on purpose: this is the embedded stack's composition root. It starts the
 * emulators and the IAM gateway, provisions the packaged template through the CloudFormation
 * provisioners with the functions bound to their sources, and wires the event source, ECS,
 * the event bus, expiry and schedules in the order their dependencies need; each of those
 * lives in its own module, and only the wiring is here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { parse } from 'yaml';
import { type AwsClientOptions, createAwsClients } from '../lib/aws/clients.ts';
import { readConfig } from '../lib/aws/config.ts';
import type { RequestMetrics } from '../lib/aws/requestMetrics.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { LocalStackError } from '../lib/errors.ts';
import type { JobRegistry } from '../lib/job/registry.ts';
import type { Log } from '../lib/log.ts';
import type { RunnerHooks } from '../lib/step/runner.ts';
import { DeployedFunctions } from './cloudformation/deployedFunctions.ts';
import { DeployedIam } from './cloudformation/deployedIam.ts';
import { DeployedSchedules } from './cloudformation/deployedSchedules.ts';
import type { StackResource } from './cloudformation/stack.ts';
import { LocalEcs } from './ecs.ts';
import { closeServer, startDynalite, startFauxqs } from './emulators.ts';
import { LocalEventBridge } from './eventBridge.ts';
import {
  type EventSourceMapping,
  type EventSourceStats,
  type MappingConcurrency,
  SqsEventSource,
} from './eventSource.ts';
import { expiryRulesOf, LocalExpiry, type LocalExpiryOptions } from './expiry.ts';
import type { FairQueues } from './fairQueues.ts';
import { IamAuthority } from './iam/authority.ts';
import { startIamGateway } from './iam/gateway.ts';
import type { Role } from './iam/roles.ts';
import { writeIamUsage } from './iam/usageFile.ts';
import { InvocationTrace } from './invocationTrace.ts';
import { EventSourceRamp } from './limits/eventSourceRamp.ts';
import { AWS_PARTITION_WRITE_UNITS, PartitionWriteLimits } from './limits/partitionWriteLimits.ts';
import { AWS_SQS_IN_FLIGHT_MESSAGES, SqsInFlightLimits } from './limits/sqsInFlightLimits.ts';
import { packagedTemplate } from './packagedTemplate.ts';
import { LocalScheduler, type SchedulerOptions } from './scheduler.ts';
import { SendAudit } from './sendAudit.ts';
import { startSfnServer } from './sfnServer.ts';
import { SourceFunctions } from './sourceFunctions.ts';
import { type ExecutionStatus, LocalStepFunctions } from './stepFunctions.ts';
import { provisionTemplate } from './templateStack.ts';

export interface LocalStackOptions {
  /** Project root holding serverless.yml, handlers/ and statemachines/. Defaults to this package. */
  readonly root?: string;
  /**
   * The serverless.yml to package and provision from, when not root/serverless.yml: a variant of it
   * (a test checks what the stack does with a setting the project's file does not have).
   */
  readonly serverlessFile?: string;
  /** Keep DynamoDB data on disk here (queues and objects stay in memory). */
  readonly dataDir?: string;
  readonly stage?: string;
  readonly region?: string;
  /** The jobs the handlers run; defaults to examples/registry.ts, as deployed. */
  readonly registry?: JobRegistry;
  /** Passed to the step worker's runner (tests use them to inject faults). */
  readonly hooks?: RunnerHooks;
  /** How long each Wait state of the run state machine lasts locally (ms). */
  readonly pollIntervalMs?: number;
  /** Replaces the queues' VisibilityTimeout of the template. */
  readonly visibilityTimeoutSeconds?: number;
  /** Replaces each event source mapping's MaximumConcurrency. */
  readonly concurrency?: number;
  /** Only warnings and errors from the handlers. */
  readonly quiet?: boolean;
  /** Called when the stack's template must be packaged first (a cold start: some seconds). */
  readonly onPackaging?: () => void;
  /** The handlers' and the stack's log level; overrides `quiet` (the fault harness uses SILENT). */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
  readonly faults?: LocalStackFaults;
  /** Seconds between SIGTERM and SIGKILL when a local ECS task is stopped (default 10). */
  readonly ecsStopTimeoutSeconds?: number;
  /** How often local ECS tasks beat (default 2 s). */
  readonly ecsHeartbeatSeconds?: number;
  /** PollRun's LAMBDAG_ECS_STALE_SECONDS: a task this long without a heartbeat is stuck (default 8 s). */
  readonly ecsStaleSeconds?: number;
  /** PollRun's LAMBDAG_ECS_START_TIMEOUT_SECONDS: a task not started this long never will (default 30 s). */
  readonly ecsStartTimeoutSeconds?: number;
  /**
   * The module whose `registry` export the local ECS tasks run (their own processes cannot
   * share `registry`); default examples/registry.ts, as deployed.
   */
  readonly registryModule?: string;
  /** Replaces the stepWorker function's timeout of the template (seconds). */
  readonly stepWorkerTimeoutSeconds?: number;
  /** Count the handlers' AWS requests, scoped by function name (the event source's own receives and deletes are not counted). */
  readonly requestMetrics?: RequestMetrics;
  /** Fire the jobs' schedules (as `lambdag local up` does). Off by default so tests start only their own runs. */
  readonly schedules?: boolean | Omit<SchedulerOptions, 'stage'>;
  /** Change a role as the template created it before it is enforced (tests take a permission away). */
  readonly editRole?: (role: Role) => Role;
  /** DynamoDB TTL and S3 lifecycle expiration: sweep interval, and the clock (local/expiry.ts). */
  readonly expiry?: LocalExpiryOptions;
  /**
   * More environment for every function and ECS task, over the template's (as a stage's
   * `provider.environment` would set it): tests tune settings such as LAMBDAG_CANCEL_CHECK_SECONDS.
   */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /**
   * Emulate AWS's limits, scaled down by `scale` (AWS's rate divided by it) so one machine
   * shows where a big run would hit them (local/limits/). Off by default.
   */
  readonly limits?: EmulatedLimits;
  /**
   * Serve the standard queues as SQS fair queues do, by each message's MessageGroupId
   * (local/fairQueues.ts). Default true, as on AWS; false serves in arrival order (a bench's
   * comparison).
   */
  readonly fairQueues?: boolean;
}

/**
 * AWS's limits divided by `scale`, each on unless turned off: a test that needs one limit to
 * bind at a scale where another would stall the run turns the other off.
 */
export interface EmulatedLimits {
  readonly scale: number;
  /** DynamoDB's write units a second per partition key (partitionWriteLimits.ts). */
  readonly partitionWrites?: boolean;
  /** SQS's in-flight messages per standard queue (sqsInFlightLimits.ts). */
  readonly sqsInFlight?: boolean;
  /** The SQS event source's scaling ramp, standard mode (eventSourceRamp.ts). */
  readonly eventSourceRamp?: boolean;
}

export interface LocalStackFaults {
  /** Step messages are sent twice: every one (`true`), or with this chance per send. */
  readonly duplicateSends?: boolean | number;
  /** Random source for chances (seeded in simulations). */
  readonly random?: () => number;
  /** The worker dies after its handler returned, before SQS deletes the record. */
  readonly crashAfterHandler?: (record: SQSRecord) => boolean;
}

export interface ExecutionOutcome {
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

export interface LocalStack {
  /**
   * The environment a process needs to reach this stack as its operator (endpoints, region,
   * the admin key, the resources' names). This process's own environment is never changed.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Client options for code in this process that reaches the stack as its operator (the admin key). */
  readonly clientOptions: AwsClientOptions;
  /** Every service's endpoint: the one IAM-enforcing gateway in front of the emulators. */
  readonly endpoints: Readonly<{ sqs: string; s3: string; dynamodb: string; sfn: string; ecs: string }>;
  readonly region: string;
  readonly stateMachineArn: string;
  /** The deps the in-process step worker uses (each function has its own: `functionDeps`). */
  readonly deps: Deps;
  /** Each in-process function's deps, by function name (startRun, pollRun, ...): clients signing as its role. */
  readonly functionDeps: ReadonlyMap<string, Deps>;
  /**
   * Deps for code in this process that reaches the stack as its operator (tests, the bench,
   * the CLI's one-shot stack): the admin key's clients and the functions' configuration.
   */
  operatorDeps(registry: JobRegistry, log: Log): Deps;
  /**
   * Lambda's UpdateFunctionConfiguration for the environment: merges `changes` (undefined
   * removes a variable) into the function's environment; its next invocations run with deps
   * built from it, as new execution environments would (faults injected into its old deps go).
   */
  updateFunctionEnvironment(
    functionName: string,
    changes: Readonly<Record<string, string | undefined>>,
  ): void;
  /** The roles the template created, as enforced, and (its `authority`) what each principal was allowed and denied. */
  readonly iam: DeployedIam;
  startExecution(input: unknown, name?: string): Promise<{ executionArn: string }>;
  waitForExecution(executionArn: string): Promise<ExecutionOutcome>;
  readonly eventSource: {
    stats(): EventSourceStats;
    drain(timeoutMs?: number): Promise<boolean>;
    /** Each mapping's concurrency over time, when the ramp is emulated (`limits`). */
    concurrency(): MappingConcurrency[];
  };
  /** The local ECS: `runtime: 'ecs'` steps run as its child-process tasks. */
  readonly ecs: LocalEcs;
  /** The default event bus: the template's rules, fed by the executions' status changes. */
  readonly events: LocalEventBridge;
  readonly faults: { sends(runId: string, step: string): number; readonly duplicated: number };
  /** The schedule runner; present when `schedules` was set. */
  readonly scheduler?: LocalScheduler;
  /** Deletes what has expired (TTL, bucket lifecycle), as AWS does. */
  readonly expiry: LocalExpiry;
  /** The emulated partition write limit and what it refused; present when `limits` was set. */
  readonly partitionWriteLimits?: PartitionWriteLimits;
  /** The emulated SQS in-flight limit and the receives it refused; present when `limits` was set. */
  readonly sqsInFlightLimits?: SqsInFlightLimits;
  /** The SQS fair queues model (local/fairQueues.ts); absent when `fairQueues` is false. */
  readonly fairQueues?: FairQueues;
  stop(): Promise<void>;
}

const ACCOUNT_ID = '000000000000';
/** The key the stack signs its own requests with, and hands the CLI and tests: not restricted by IAM. */
const ADMIN_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;
const DEFAULT_POLL_INTERVAL_MS = 250;
const LOCAL_RETRY_INTERVAL_MS = 200;
const PACKAGE_ROOT = join(import.meta.dirname, '..');

/**
 * The embedded local stack: SQS and S3 (fauxqs), DynamoDB (dynalite), Step
 * Functions (aws-local-stepfunctions behind the real API), all on 127.0.0.1 and
 * free ports, provisioned from the template `sls package` makes of serverless.yml
 * (local/packagedTemplate.ts, cached), with the real handlers running in-process from
 * source: the state machine's tasks, the event rules' targets and an SQS event source
 * for the step worker.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const root = options.root ?? PACKAGE_ROOT;
  const stage = options.stage ?? 'local';
  const region = options.region ?? 'us-east-1';
  const logLevel = options.logLevel ?? (options.quiet ? 'WARN' : 'INFO');
  const log: Log = new Logger({ serviceName: 'lambdag-local', logLevel });
  const stoppers: (() => Promise<void>)[] = [];

  const stop = async () => {
    for (const stopper of stoppers.splice(0).reverse()) {
      await stopper().catch((error: unknown) => log.error('local stack: stop step failed', { error }));
    }
  };

  try {
    const fauxqs = await startFauxqs({ fairQueues: options.fairQueues !== false });
    stoppers.push(fauxqs.stop);
    const dynamo = await startDynalite(options.dataDir);
    stoppers.push(dynamo.stop);

    // One endpoint for every service, as AWS's front door: it knows each caller by its key and
    // refuses what the caller's role does not allow (local/iam/). Upstreams join as they start.
    const authority = new IamAuthority(ACCOUNT_ID, ADMIN_CREDENTIALS.accessKeyId);
    const upstreams: Record<string, string> = {
      sqs: fauxqs.endpoint,
      s3: fauxqs.endpoint,
      dynamodb: dynamo.endpoint,
    };
    // The roles RunTask passes (the task definition's), known once the template is provisioned.
    let taskDefinitionRoles: string[] = [];
    // Filled with each table's keys once the tables exist.
    const hashKeys = new Map<string, string>();
    const rangeKeys = new Map<string, string>();
    const limits = options.limits;
    const partitionWriteLimits =
      limits && limits.partitionWrites !== false
        ? new PartitionWriteLimits({
            unitsPerSecond: AWS_PARTITION_WRITE_UNITS / limits.scale,
            hashKeys,
            rangeKeys,
          })
        : undefined;
    // Asks a queue's visibility timeout as the operator (after `admin` exists: at the first receive).
    const sqsInFlightLimits =
      limits && limits.sqsInFlight !== false
        ? new SqsInFlightLimits({
            messagesPerQueue: Math.max(1, Math.floor(AWS_SQS_IN_FLIGHT_MESSAGES / limits.scale)),
            visibilityTimeoutOf: async (queueUrl) => {
              const { Attributes } = await admin.sqs.send(
                new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['VisibilityTimeout'] }),
              );
              return Number(Attributes?.VisibilityTimeout ?? 30);
            },
          })
        : undefined;
    const gateway = await startIamGateway({
      upstreams,
      authority,
      context: { taskDefinitionRoles: () => taskDefinitionRoles },
      log,
      ...(partitionWriteLimits && { partitionWriteLimits }),
      ...(sqsInFlightLimits && { sqsInFlightLimits }),
    });
    stoppers.push(() => closeServer(gateway.server));
    const edge = gateway.endpoint;
    const endpoints = { sqs: edge, s3: edge, dynamodb: edge, sfn: edge, ecs: edge };
    // Where every client of the stack's functions and operators sends, and in which region:
    // passed to each client explicitly, never through this process's environment.
    const reach: AwsClientOptions = { endpoints, region };
    const clientOptions: AwsClientOptions = { ...reach, credentials: ADMIN_CREDENTIALS };
    // What a process outside this one (an ECS task, the CLI) needs to reach the stack the same way.
    const baseEnv: Record<string, string> = {
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: ADMIN_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ADMIN_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ENDPOINT_URL_S3: endpoints.s3,
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
      AWS_ENDPOINT_URL_SFN: endpoints.sfn,
      AWS_ENDPOINT_URL_ECS: endpoints.ecs,
      ...(logLevel !== 'INFO' && { POWERTOOLS_LOG_LEVEL: logLevel }),
    };
    const admin = createAwsClients(clientOptions);
    const registry = options.registry ?? (await import('../examples/registry.ts')).registry;
    const serverlessFile = options.serverlessFile ?? join(root, 'serverless.yml');
    // Serverless names the stack and its functions `<service>-<stage>`.
    const stackName = `${serviceOf(serverlessFile)}-${stage}`;
    const template = await packagedTemplate({
      root,
      ...(options.serverlessFile && { serverlessFile: options.serverlessFile }),
      stage,
      region,
      ...(options.onPackaging && { onPackaging: options.onPackaging }),
    });

    // The roles and policies the template creates, as the gateway enforces them.
    const iam = new DeployedIam(authority, ACCOUNT_ID, options.editRole);
    stoppers.push(async () => writeIamUsage(iam.roles(), authority));

    // The local ECS tasks' settings, over the template's: shorter beats for tests, and the
    // module the tasks load their jobs from.
    const ecsEnv: Record<string, string> = {
      LAMBDAG_ECS_HEARTBEAT_SECONDS: String(options.ecsHeartbeatSeconds ?? 2),
      LAMBDAG_ECS_STALE_SECONDS: String(options.ecsStaleSeconds ?? 8),
      LAMBDAG_ECS_START_TIMEOUT_SECONDS: String(options.ecsStartTimeoutSeconds ?? 30),
      ...(options.registryModule ? { LAMBDAG_REGISTRY_MODULE: options.registryModule } : {}),
      // A watching PollRun looks as often as the local Wait state would poll.
      LAMBDAG_POLL_WATCH_CHECK_MS: String(options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS),
    };

    // The handlers' clients, with the send audit (and duplicate sends when asked) on SQS.
    const audit = new SendAudit({
      duplicateSends: options.faults?.duplicateSends,
      random: options.faults?.random,
    });
    // The invocations' trace headers (Lambda's recursive loop detection) go with the functions' sends.
    const trace = new InvocationTrace();
    const sourceFunctions = new SourceFunctions({
      root,
      namePrefix: `${stackName}-`,
      registry,
      ...(options.hooks && { hooks: options.hooks }),
      reach,
      // Each function signs as its own role, as a Lambda signs with its execution role.
      credentialsFor: (fn) => iam.session(fn.functionName, fn.role, 'lambda.amazonaws.com').credentials,
      instrument: (aws) => {
        audit.install(aws.sqs);
        trace.install(aws.sqs);
      },
      ...(options.requestMetrics && { requestMetrics: options.requestMetrics }),
      environment: { ...ecsEnv, ...options.functionEnvironment },
      ...(options.stepWorkerTimeoutSeconds && {
        timeouts: { stepWorker: options.stepWorkerTimeoutSeconds },
      }),
      log: new Logger({ serviceName: 'lambdag', logLevel }),
    });

    const sfn = new LocalStepFunctions(region, ACCOUNT_ID, log);
    stoppers.push(() => sfn.stopAll());
    // The default event bus: the template's rules, fed by the executions' status changes.
    const events = new LocalEventBridge({ region, accountId: ACCOUNT_ID, log });
    sfn.publishStatusChanges((entry) => events.put(entry));
    stoppers.push(() => events.close());
    // The template's event source mappings, gathered into the one event source started below.
    const mappings: EventSourceMapping[] = [];
    const functions = new DeployedFunctions({
      region,
      accountId: ACCOUNT_ID,
      reach,
      adminSqs: admin.sqs,
      host: sourceFunctions,
      sfn,
      events,
      iam,
      authority,
      log,
      waitMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      retryMs: LOCAL_RETRY_INTERVAL_MS,
      startEventSource: (mapping) => {
        mappings.push({ ...mapping, maximumConcurrency: options.concurrency ?? mapping.maximumConcurrency });
        return { stop: async () => {} };
      },
    });
    // The template's schedules are checked (their role and target) but not fired from here:
    // the stack fires the registry's own (LocalScheduler, `schedules`), which tests control.
    const declaredSchedules = new DeployedSchedules({ sfn, iam, authority, log, checkEveryMs: 0 });

    const provisioned = await provisionTemplate({
      body: template.body,
      stackName,
      region,
      accountId: ACCOUNT_ID,
      log,
      context: {
        region,
        accountId: ACCOUNT_ID,
        clients: admin,
        iam,
        functions,
        schedules: declaredSchedules,
      },
      ...(options.visibilityTimeoutSeconds !== undefined && {
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      }),
    });
    const resources = [...provisioned.resources.values()];
    for (const table of resources.filter((r) => r.type === 'AWS::DynamoDB::Table')) {
      const schema = (table.properties.KeySchema ?? []) as { AttributeName: string; KeyType: string }[];
      const hash = schema.find((k) => k.KeyType === 'HASH')?.AttributeName ?? '';
      const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      hashKeys.set(table.values.ref, hash);
      if (range) rangeKeys.set(table.values.ref, range);
    }
    const expiry = new LocalExpiry(
      admin,
      expiryRulesOf(
        Object.fromEntries(resources.map((r) => [r.logicalId, { Type: r.type, Properties: r.properties }])),
        new Map(resources.map((r) => [r.logicalId, r.values])),
      ),
      log,
      options.expiry,
    );
    expiry.start();
    stoppers.push(() => expiry.stop());
    const stateMachineArn = onlyOne(resources, 'AWS::StepFunctions::StateMachine').values.ref;
    // The functions' shared environment (each function's own is the template's): the ECS tasks'
    // and the operator's, as the step worker's.
    const functionEnv = { ...sourceFunctions.environmentOf('stepWorker') };

    // ECS: `runtime: 'ecs'` steps run as child processes of ecs/main.ts behind a local ECS API,
    // with the task definition's roles (RunTask passes them) and its task role's key.
    const taskDefinition = resources.find((r) => r.type === 'AWS::ECS::TaskDefinition')?.properties as
      | { TaskRoleArn?: string; ExecutionRoleArn?: string }
      | undefined;
    taskDefinitionRoles = [taskDefinition?.TaskRoleArn, taskDefinition?.ExecutionRoleArn].filter(
      (arn): arn is string => arn !== undefined,
    );
    const taskSession = taskDefinition?.TaskRoleArn
      ? iam.session('ecs-task', taskDefinition.TaskRoleArn, 'ecs-tasks.amazonaws.com')
      : undefined;
    const ecs = new LocalEcs({
      region,
      accountId: ACCOUNT_ID,
      root,
      stopTimeoutSeconds: options.ecsStopTimeoutSeconds ?? 10,
      verbose: logLevel === 'INFO' || logLevel === 'DEBUG',
      log,
      // The task definition's environment is the functions' (lib/aws/config.ts reads both),
      // with the endpoints and the task role's key.
      taskEnvironment: { ...baseEnv, ...functionEnv, ...credentialEnv(taskSession?.credentials) },
    });
    const ecsServer = await ecs.serve();
    upstreams.ecs = ecsServer.endpoint;
    stoppers.push(() => closeServer(ecsServer.server));
    stoppers.push(() => ecs.stopAll());

    const sfnServer = await startSfnServer(sfn, log);
    stoppers.push(() => closeServer(sfnServer.server));
    upstreams.states = sfnServer.endpoint;

    // Creating a mapping reads its queue's attributes as the function's role, as Lambda's
    // CreateEventSourceMapping checks the role can consume it.
    for (const mapping of mappings) {
      try {
        await mapping.sqs?.send(
          new GetQueueAttributesCommand({ QueueUrl: mapping.queueUrl, AttributeNames: ['QueueArn'] }),
        );
      } catch (error) {
        throw new LocalStackError(
          `the event source mapping cannot be created: ${mapping.functionName} cannot read ${mapping.queueArn} (${(error as Error).message})`,
        );
      }
    }
    const eventSource = new SqsEventSource(
      admin.sqs,
      mappings,
      log,
      { crashAfterHandler: options.faults?.crashAfterHandler },
      trace,
      limits && limits.eventSourceRamp !== false
        ? (mapping) => EventSourceRamp.scaled(limits.scale, mapping.maximumConcurrency)
        : undefined,
    );
    eventSource.start();
    // Stopped before the executions and servers it depends on.
    stoppers.push(() => eventSource.stop());

    let scheduler: LocalScheduler | undefined;
    if (options.schedules) {
      // The schedules start the execution as their role (the template's, when it declares schedules).
      const schedule = resources.find((r) => r.type === 'AWS::Scheduler::Schedule');
      const schedulerRole = (schedule?.properties.Target as { RoleArn?: string } | undefined)?.RoleArn;
      const schedulerSession = schedulerRole
        ? iam.session('scheduler', schedulerRole, 'scheduler.amazonaws.com')
        : undefined;
      scheduler = new LocalScheduler(
        registry.schedules(),
        (input) => {
          const denied =
            schedulerSession &&
            authority.authorize(schedulerSession.principal, 'Scheduler.StartExecution', [
              { action: 'states:StartExecution', resource: stateMachineArn },
            ]);
          if (denied) throw new LocalStackError(`AccessDeniedException: ${denied.message}`);
          return sfn.startExecution(stateMachineArn, input).executionArn;
        },
        log,
        { stage, ...(options.schedules === true ? {} : options.schedules) },
      );
      scheduler.start();
      stoppers.push(async () => scheduler?.stop());
    }

    const env: Record<string, string> = {
      ...baseEnv,
      ...functionEnv,
      LAMBDAG_STATE_MACHINE_ARN: stateMachineArn,
    };
    const operatorConfig = readConfig(env);

    return {
      env,
      clientOptions,
      endpoints,
      region,
      stateMachineArn,
      get deps() {
        const functionDeps = sourceFunctions.deps;
        return functionDeps.get('stepWorker') ?? ([...functionDeps.values()][0] as Deps);
      },
      functionDeps: sourceFunctions.deps,
      operatorDeps: (registry, log) =>
        createDeps(registry, { env, config: operatorConfig, aws: createAwsClients(clientOptions), log }),
      updateFunctionEnvironment(functionName, changes) {
        sourceFunctions.updateEnvironment(functionName, changes);
      },
      iam,
      async startExecution(input, name) {
        const execution = sfn.startExecution(stateMachineArn, JSON.stringify(input ?? {}), name);
        return { executionArn: execution.executionArn };
      },
      async waitForExecution(executionArn) {
        const execution = sfn.describeExecution(executionArn);
        await execution.done;
        const { status, output, error, cause } = execution;
        return { executionArn, status, output, error, cause };
      },
      eventSource,
      ecs,
      events,
      faults: audit,
      ...(scheduler && { scheduler }),
      expiry,
      ...(partitionWriteLimits && { partitionWriteLimits }),
      ...(sqsInFlightLimits && { sqsInFlightLimits }),
      ...(fauxqs.fairQueues && { fairQueues: fauxqs.fairQueues }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The one resource of this type the template declares. */
function onlyOne(resources: readonly StackResource[], type: string): StackResource {
  const found = resources.filter((r) => r.type === type);
  if (found.length !== 1)
    throw new LocalStackError(
      `the embedded stack needs one ${type} in its template, not ${found.length} (${found.map((r) => r.logicalId).join(', ')})`,
    );
  return found[0] as StackResource;
}

/** serverless.yml's `service`: what the stack and its functions are named after. */
function serviceOf(serverlessFile: string): string {
  const service = (parse(readFileSync(serverlessFile, 'utf8')) as { service?: unknown } | null)?.service;
  if (typeof service !== 'string' || !service)
    throw new LocalStackError(`${serverlessFile}: service is missing`);
  return service;
}

function credentialEnv(credentials: { accessKeyId: string; secretAccessKey: string } | undefined) {
  if (!credentials) return undefined;
  return { AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey };
}
