import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../lib/aws/config.ts';
import { TTL_ATTRIBUTE } from '../../lib/run/retention.ts';
import { checkTemplate, formatProblems } from '../support/templateSchema.ts';

/**
 * The deployed system as Serverless packages it: `sls package --stage local|dev|prod`
 * runs fully offline (no AWS, no LocalStack) and the CloudFormation it writes is
 * checked here. Nothing these tests start talks to anything but 127.0.0.1.
 */

const root = join(import.meta.dirname, '../..');
const slsBin = join(root, 'node_modules/serverless/bin/serverless.js');
const FUNCTIONS = ['startRun', 'pollRun', 'finalizeRun', 'executionEnded', 'stepWorker'] as const;
const STAGES = ['local', 'dev', 'prod'] as const;
type Stage = (typeof STAGES)[number];

/** What custom.stages in serverless.yml says for each packaged stage. */
const PER_STAGE = {
  local: {
    maxConcurrency: 8,
    visibilityTimeout: 30,
    workerTimeout: 30,
    logRetentionDays: 7,
    retentionDays: 7,
    pointInTimeRecovery: false,
    // LocalStack's community edition has no ECS: off on the local stage.
    ecs: { enabled: false, image: 'localhost.localstack.cloud:4510/lambdag:latest' },
    env: {
      LAMBDAG_MAX_RECEIVE_COUNT: '5',
      LAMBDAG_RUN_PARTITIONS: '16',
      LAMBDAG_RETENTION_DAYS: '7',
      LAMBDAG_STALL_SECONDS: '20',
      LAMBDAG_QUEUED_LOST_SECONDS: '30',
      LAMBDAG_RUNNING_LOST_SECONDS: '45',
    },
  },
  dev: {
    maxConcurrency: 50,
    visibilityTimeout: 5400,
    workerTimeout: 900,
    logRetentionDays: 14,
    retentionDays: 30,
    pointInTimeRecovery: false,
    // On, but without subnets until they are filled in: deployed without ECS.
    ecs: {
      enabled: false,
      image: '<AWS::AccountId>.dkr.ecr.<AWS::Region>.<AWS::URLSuffix>/lambdag:latest',
    },
    env: {
      LAMBDAG_MAX_RECEIVE_COUNT: '5',
      LAMBDAG_RUN_PARTITIONS: '16',
      LAMBDAG_RETENTION_DAYS: '30',
      LAMBDAG_STALL_SECONDS: '300',
      LAMBDAG_QUEUED_LOST_SECONDS: '900',
      LAMBDAG_RUNNING_LOST_SECONDS: '1000',
    },
  },
  prod: {
    maxConcurrency: 200,
    visibilityTimeout: 5400,
    workerTimeout: 900,
    logRetentionDays: 90,
    retentionDays: 90,
    pointInTimeRecovery: true,
    // As in dev: on, but without subnets until they are filled in.
    ecs: {
      enabled: false,
      image: '<AWS::AccountId>.dkr.ecr.<AWS::Region>.<AWS::URLSuffix>/lambdag:latest',
    },
    env: {
      LAMBDAG_MAX_RECEIVE_COUNT: '5',
      LAMBDAG_RUN_PARTITIONS: '16',
      LAMBDAG_RETENTION_DAYS: '90',
      LAMBDAG_STALL_SECONDS: '300',
      LAMBDAG_QUEUED_LOST_SECONDS: '900',
      LAMBDAG_RUNNING_LOST_SECONDS: '1000',
    },
  },
} as const satisfies Record<Stage, unknown>;

// ---- running serverless -------------------------------------------------------

interface SlsResult {
  /** Exit code; null when the process was killed (by the timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

function sls(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<SlsResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [slsBin, ...args],
      { cwd: root, env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, signal: error?.signal ?? null, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * A hermetic environment: fake credentials (a developer's profile is never read),
 * every AWS endpoint on a closed local port, no telemetry or notification checks.
 */
function offlineEnv(home: string, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    SLS_TELEMETRY_DISABLED: '1',
    SLS_TRACKING_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SLS_AWS_REQUEST_MAX_RETRIES: '0',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(home, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-credentials'),
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    NO_COLOR: '1',
  };
}

// ---- reading the template -----------------------------------------------------

type Obj = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties: Obj;
  DeletionPolicy?: string;
  Condition?: string;
  DependsOn?: string | string[];
}
interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, { Value: unknown; Condition?: string }>;
}
interface Packaged {
  dir: string;
  template: Template;
}

const isObj = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** An intrinsic as readable text: `<Logical.Attr>`, `<Logical>`, joins flattened. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isObj(value)) {
    if (typeof value.Ref === 'string') return `<${value.Ref}>`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${getAtt.join('.')}>`;
    const join = value['Fn::Join'];
    if (Array.isArray(join)) return list(join[1]).map(render).join(String(join[0]));
    // Fn::Select [i, Fn::Split [separator, text]]: how serverless.yml turns a number into text.
    const select = value['Fn::Select'];
    const split = Array.isArray(select) && isObj(select[1]) ? select[1]['Fn::Split'] : undefined;
    if (Array.isArray(select) && Array.isArray(split) && typeof split[1] === 'string') {
      return split[1].split(String(split[0]))[Number(select[0])] ?? '';
    }
  }
  return JSON.stringify(value);
}

/** A template condition evaluated as CloudFormation would (they compare literals here). */
function conditionHolds(template: Template, name: string): boolean {
  const evaluate = (expression: unknown): boolean => {
    if (!isObj(expression)) throw new Error(`condition ${name}: ${JSON.stringify(expression)}`);
    const args = (key: string) => list(expression[key]);
    if (typeof expression.Condition === 'string') return conditionHolds(template, expression.Condition);
    if ('Fn::Not' in expression) return !evaluate(args('Fn::Not')[0]);
    if ('Fn::And' in expression) return args('Fn::And').every(evaluate);
    if ('Fn::Or' in expression) return args('Fn::Or').some(evaluate);
    const [left, right] = args('Fn::Equals');
    if (typeof left === 'string' && typeof right === 'string') return left === right;
    throw new Error(`condition ${name}: cannot evaluate ${JSON.stringify(expression)}`);
  };
  const definition = template.Conditions?.[name];
  if (definition === undefined) throw new Error(`no condition ${name}`);
  return evaluate(definition);
}

const NO_VALUE = Symbol('AWS::NoValue');

/** `value` as CloudFormation deploys it: Fn::If takes its branch, AWS::NoValue drops the key. */
function withConditions(
  template: Template,
  value: unknown,
  holds = (name: string) => conditionHolds(template, name),
): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => withConditions(template, item, holds)).filter((item) => item !== NO_VALUE);
  }
  if (!isObj(value)) return value;
  if (value.Ref === 'AWS::NoValue') return NO_VALUE;
  const branch = value['Fn::If'];
  if (Array.isArray(branch))
    return withConditions(template, holds(String(branch[0])) ? branch[1] : branch[2], holds);
  return Object.fromEntries(
    Object.entries(value)
      .map(([key, item]) => [key, withConditions(template, item, holds)] as const)
      .filter(([, item]) => item !== NO_VALUE),
  );
}

function ofType(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function resource(template: Template, id: string): CfnResource {
  const found = template.Resources[id];
  if (!found) throw new Error(`no resource ${id}`);
  return found;
}

interface Statement {
  where: string;
  /** The roles the statement's policy is part of, or attached to. */
  roles: string[];
  Effect: unknown;
  actions: string[];
  resources: string[];
  raw: Obj;
}

/**
 * Resources that are ours but are not a Ref or GetAtt, read back as what they are: the run
 * state machine's own ARN (continue-as-new; a Ref would be a circular dependency, so
 * serverless.yml builds it from the machine's name), any revision of the step task
 * definition's family (RunTask), the tasks of the step cluster (DescribeTasks, StopTask).
 */
function ownByName(template: Template, resource: string): string {
  const arn = /^arn:<AWS::Partition>:(states|ecs):<AWS::Region>:<AWS::AccountId>:(.+)$/.exec(resource);
  if (!arn) return resource;
  const [, service, rest] = arn;
  const property = (id: string, name: string) => template.Resources[id]?.Properties[name];
  if (
    service === 'states' &&
    rest === `stateMachine:${String(property('RunStateMachine', 'StateMachineName'))}`
  ) {
    return '<RunStateMachine>';
  }
  if (service === 'ecs' && rest === `task-definition/${String(property('StepTaskDefinition', 'Family'))}:*`) {
    return '<StepTaskDefinition>:*';
  }
  if (service === 'ecs' && rest === 'task/<EcsCluster>/*') return '<EcsCluster>/task/*';
  if (
    service === 'states' &&
    rest === `execution:${String(property('RunStateMachine', 'StateMachineName'))}:*`
  ) {
    return '<RunStateMachine>/execution/*';
  }
  return resource;
}

/** The one resource that is not the stack's: the ECR repository the step image is pulled from. */
const IMAGE_REPOSITORY = 'arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/lambdag';

/** Every statement of every identity policy: inline role policies, IAM policies, managed policies. */
function iamStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  const collect = (where: string, roles: string[], document: unknown) => {
    for (const raw of list(isObj(document) ? document.Statement : undefined)) {
      if (!isObj(raw)) throw new Error(`${where}: a statement that is not an object`);
      statements.push({
        where,
        roles,
        Effect: raw.Effect,
        actions: list(raw.Action ?? raw.NotAction).map(String),
        resources: list(raw.Resource ?? raw.NotResource)
          .map(render)
          .map((res) => ownByName(template, res)),
        raw,
      });
    }
  };
  for (const [id, role] of ofType(template, 'AWS::IAM::Role')) {
    for (const policy of list(role.Properties.Policies)) {
      if (isObj(policy)) collect(`${id}/${String(policy.PolicyName)}`, [id], policy.PolicyDocument);
    }
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, policy] of ofType(template, type)) {
      const roles = list(policy.Properties.Roles).map((role) => render(role).replace(/^<(\w+)>$/, '$1'));
      collect(id, roles, policy.Properties.PolicyDocument);
    }
  }
  return statements;
}

/** role → rendered resource → sorted actions, from the role's Allow statements. */
function permissionsOf(template: Template, roleId: string): Record<string, string[]> {
  const byResource: Record<string, Set<string>> = {};
  for (const statement of iamStatements(template)) {
    if (!statement.roles.includes(roleId) || statement.Effect !== 'Allow') continue;
    for (const res of statement.resources) {
      byResource[res] ??= new Set();
      for (const action of statement.actions) byResource[res].add(action);
    }
  }
  return Object.fromEntries(Object.entries(byResource).map(([res, actions]) => [res, [...actions].sort()]));
}

// ---- packaging every stage once ----------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'lambdag-deploy-test-'));
const packages = {} as Record<Stage, Packaged>;
let port = 0;

beforeAll(async () => {
  port = await closedPort();
  // One after the other: the builds use the same .esbuild work directory.
  for (const stage of STAGES) {
    const dir = join(scratch, stage);
    const result = await sls(
      ['package', '--stage', stage, '--package', dir],
      offlineEnv(scratch, port),
      150_000,
    );
    if (result.code !== 0) throw new Error(`sls package --stage ${stage} failed:\n${result.output}`);
    const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
    packages[stage] = { dir, template };
  }
}, 450_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}`;

/** A function's environment as deployed when `holds` says which conditions hold, rendered. */
function functionEnvironment(
  template: Template,
  fn: string,
  holds: (condition: string) => boolean,
): Record<string, string> {
  const environment = resource(template, `${logicalId(fn)}LambdaFunction`).Properties.Environment;
  const variables = withConditions(template, isObj(environment) ? environment.Variables : {}, holds);
  return Object.fromEntries(
    Object.entries(isObj(variables) ? variables : {}).map(([k, v]) => [k, render(v)]),
  );
}

/** The functions' ECS variables where ECS is deployed (the stages' subnets are not filled in). */
const ECS_ENV = {
  LAMBDAG_ECS_CLUSTER: '<EcsCluster>',
  LAMBDAG_ECS_TASK_DEFINITION: '<StepTaskDefinition>',
  LAMBDAG_ECS_CONTAINER: 'step',
  LAMBDAG_ECS_LAUNCH_TYPE: 'FARGATE',
  LAMBDAG_ECS_SUBNETS: '',
  LAMBDAG_ECS_SECURITY_GROUPS: '',
  LAMBDAG_ECS_ASSIGN_PUBLIC_IP: 'DISABLED',
};

/** What exists only where ECS is deployed (Condition EcsEnabled). */
const ECS_RESOURCES = [
  'EcsCluster',
  'StepTaskDefinition',
  'StepTaskLogGroup',
  'StepTaskRole',
  'StepTaskExecutionRole',
  'StepWorkerEcsPolicy',
  'PollRunEcsPolicy',
  'ExecutionEndedEcsPolicy',
];

describe.each(STAGES)('packaging the %s stage offline', (stage) => {
  const template = () => packages[stage].template;
  const expected = PER_STAGE[stage];

  it('bundles each handler as ESM into its own zip, run on nodejs22.x', () => {
    for (const fn of FUNCTIONS) {
      const zip = readFileSync(join(packages[stage].dir, `${fn}.zip`));
      expect(zip.includes(`handlers/${fn}.mjs`), `${fn}.zip holds handlers/${fn}.mjs`).toBe(true);
      const lambda = resource(template(), `${logicalId(fn)}LambdaFunction`);
      expect(lambda.Properties).toMatchObject({
        Handler: `handlers/${fn}.handler`,
        Runtime: 'nodejs22.x',
        FunctionName: `lambdag-${stage}-${fn}`,
      });
    }
  });

  it("is what CloudFormation's resource schemas allow: types, properties, attributes, references", () => {
    const problems = checkTemplate(template());
    expect(problems, `CloudFormation would reject:\n${formatProblems(problems)}`).toEqual([]);
  });

  it('declares the functions, queues, tables, bucket, state machine, event source mappings and alarms', () => {
    const t = template();
    const count = (type: string) => ofType(t, type).length;
    expect(count('AWS::Lambda::Function')).toBe(5);
    expect(count('AWS::SQS::Queue')).toBe(4);
    expect(count('AWS::DynamoDB::Table')).toBe(2);
    expect(count('AWS::StepFunctions::StateMachine')).toBe(1);
    expect(count('AWS::Lambda::EventSourceMapping')).toBe(2);
    expect(count('AWS::CloudWatch::Alarm')).toBe(7);
    for (const id of [
      'RunsTable',
      'IdempotencyTable',
      'ArtifactsBucket',
      'ArtifactsBucketPolicy',
      'StepsQueue',
      'StepsHighQueue',
      'StepsDeadLetterQueue',
      'StepsHighDeadLetterQueue',
      'RunStateMachine',
    ]) {
      expect(t.Resources[id], id).toBeDefined();
    }
    expect(resource(t, 'RunStateMachine').Properties.StateMachineName).toBe(`lambdag-${stage}-run`);
    expect(resource(t, 'StepWorkerLambdaFunction').Properties.Timeout).toBe(expected.workerTimeout);
  });

  it('keeps the runs table with its byJob index and the idempotency table with its TTL', () => {
    const runs = resource(template(), 'RunsTable').Properties;
    expect(runs.TableName).toBe(`lambdag-${stage}-runs`);
    expect(list(runs.GlobalSecondaryIndexes).map((index) => isObj(index) && index.IndexName)).toEqual([
      'byJob',
    ]);
    expect(resource(template(), 'IdempotencyTable').Properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiration',
      Enabled: true,
    });
  });

  it('expires a run with its artifacts (a TTL on the runs table) and backs the table up where the stage says', () => {
    const runs = resource(template(), 'RunsTable').Properties;
    expect(runs.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(runs.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: expected.pointInTimeRecovery,
    });
    // The same number of days for the artifacts (the bucket's lifecycle) and the runs' TTL.
    const rules = resource(template(), 'ArtifactsBucket').Properties.LifecycleConfiguration;
    expect(list(isObj(rules) ? rules.Rules : undefined)).toContainEqual(
      expect.objectContaining({ Status: 'Enabled', ExpirationInDays: expected.retentionDays }),
    );
    for (const fn of FUNCTIONS) {
      const config = readConfig(functionEnvironment(template(), fn, () => false));
      expect(config.retentionDays, fn).toBe(expected.retentionDays);
    }
  });

  it('feeds the step worker from both step queues with partial batch failures and a concurrency cap', () => {
    const mappings = ofType(template(), 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    expect(mappings.map((m) => render(m.EventSourceArn)).sort()).toEqual([
      '<StepsHighQueue.Arn>',
      '<StepsQueue.Arn>',
    ]);
    for (const mapping of mappings) {
      expect(render(mapping.FunctionName)).toBe('<StepWorkerLambdaFunction.Arn>');
      expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: expected.maxConcurrency });
      expect(mapping.BatchSize).toBe(10);
    }
  });

  it("lets the step worker's step chains through Lambda's recursive loop detection (RecursiveLoop: Allow)", () => {
    // A chain of steps is a Lambda -> SQS -> same-Lambda loop to AWS: left to the default
    // (Terminate), Lambda would stop every chain at its 17th step.
    expect(resource(template(), 'StepWorkerLambdaFunction').Properties.RecursiveLoop).toBe('Allow');
    // The functions not fed by their own queue keep AWS's default.
    for (const fn of FUNCTIONS.filter((name) => name !== 'stepWorker')) {
      expect(
        resource(template(), `${logicalId(fn)}LambdaFunction`).Properties.RecursiveLoop,
        fn,
      ).toBeUndefined();
    }
  });

  it('gives every step queue a redrive policy to a DLQ of its own', () => {
    const queues = ofType(template(), 'AWS::SQS::Queue');
    const targets = queues.flatMap(([, q]) =>
      isObj(q.Properties.RedrivePolicy) ? [render(q.Properties.RedrivePolicy.deadLetterTargetArn)] : [],
    );
    const dlqs = queues.filter(([id]) => targets.includes(`<${id}.Arn>`));
    const stepQueues = queues.filter(([id]) => !targets.includes(`<${id}.Arn>`));
    expect(dlqs.map(([id]) => id).sort()).toEqual(['StepsDeadLetterQueue', 'StepsHighDeadLetterQueue']);
    expect(new Set(targets).size).toBe(stepQueues.length);
    for (const [id, queue] of stepQueues) {
      expect(queue.Properties.RedrivePolicy, id).toMatchObject({ maxReceiveCount: 5 });
      expect(queue.Properties.VisibilityTimeout, id).toBe(expected.visibilityTimeout);
    }
    for (const [id, dlq] of dlqs) {
      expect(dlq.Properties.RedrivePolicy, id).toBeUndefined();
      expect(dlq.Properties.MessageRetentionPeriod, id).toBe(1209600);
    }
  });

  it('alarms on a DLQ holding a message and on infrastructure failures, never on a failed or canceled run', () => {
    const alarms = ofType(template(), 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(list(alarm.AlarmActions).map(render)).toEqual(['<AlarmTopic>']);
    }
    const watched = Object.fromEntries(
      alarms.map((a) => [
        `${String(a.Namespace)} ${String(a.MetricName)}`,
        list(a.Dimensions).map((d) => (isObj(d) ? `${String(d.Name)}=${render(d.Value)}` : '')),
      ]),
    );
    const dlqAlarms = alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(
      dlqAlarms.map((a) => list(a.Dimensions).map((d) => (isObj(d) ? render(d.Value) : ''))).sort(),
    ).toEqual([['<StepsDeadLetterQueue.QueueName>'], ['<StepsHighDeadLetterQueue.QueueName>']]);
    expect(watched).toEqual({
      'AWS/SQS ApproximateNumberOfMessagesVisible': expect.any(Array),
      // ExecutionsFailed would count every failed and canceled run: not watched.
      [`lambdag/${stage} RunExecutionsFailedByInfrastructure`]: [],
      'AWS/States ExecutionsTimedOut': ['StateMachineArn=<RunStateMachine>'],
      'AWS/States ExecutionsAborted': ['StateMachineArn=<RunStateMachine>'],
      'AWS/Lambda Errors': ['FunctionName=<StepWorkerLambdaFunction>'],
      'AWS/Lambda Throttles': ['FunctionName=<StepWorkerLambdaFunction>'],
    });
  });

  it("counts the run executions that failed with an error of lambdag's infrastructure, from the state machine's log", () => {
    const filters = ofType(template(), 'AWS::Logs::MetricFilter');
    expect(filters.map(([id]) => id)).toEqual(['RunInfrastructureFailureMetricFilter']);
    expect(filters[0]![1].Properties).toEqual({
      LogGroupName: { Ref: 'RunStateMachineLogGroup' },
      // The log event of an ExecutionFailed: { "type": "ExecutionFailed", "details": { "error", "cause" }, ... }.
      FilterPattern:
        '{ ($.type = "ExecutionFailed") && ($.details.error != "lambdag.RunFailed") && ($.details.error != "lambdag.RunCanceled") }',
      MetricTransformations: [
        {
          MetricNamespace: `lambdag/${stage}`,
          MetricName: 'RunExecutionsFailedByInfrastructure',
          MetricValue: '1',
          Unit: 'Count',
        },
      ],
    });
    // The two errors let through are the Fail states a failed or canceled run ends with.
    const definition = JSON.parse(readFileSync(join(root, 'statemachines/run.asl.json'), 'utf8')) as {
      States: Record<string, { Type: string; Error?: string }>;
    };
    const failErrors = Object.values(definition.States)
      .filter((state) => state.Type === 'Fail')
      .map((state) => state.Error)
      .sort();
    expect(failErrors).toEqual(['lambdag.RunCanceled', 'lambdag.RunFailed']);
  });

  it("logs the run state machine's failures, without execution data, to a log group kept for the stage's log retention", () => {
    expect(resource(template(), 'RunStateMachine').Properties.LoggingConfiguration).toEqual({
      Level: 'ERROR',
      IncludeExecutionData: false,
      Destinations: [
        { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['RunStateMachineLogGroup', 'Arn'] } } },
      ],
    });
    expect(resource(template(), 'RunStateMachineLogGroup').Properties).toEqual({
      LogGroupName: `/aws/vendedlogs/states/lambdag-${stage}-run`,
      RetentionInDays: expected.logRetentionDays,
    });
  });

  it('sets the resource names and the per-stage settings in every function environment', () => {
    for (const fn of FUNCTIONS) {
      const variables = functionEnvironment(template(), fn, (name) => conditionHolds(template(), name));
      expect(variables).toEqual({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'lambdag',
        LAMBDAG_STAGE: stage,
        LAMBDAG_RUNS_TABLE: '<RunsTable>',
        LAMBDAG_IDEMPOTENCY_TABLE: '<IdempotencyTable>',
        LAMBDAG_BUCKET: '<ArtifactsBucket>',
        LAMBDAG_QUEUE_URL_DEFAULT: '<StepsQueue>',
        LAMBDAG_QUEUE_URL_HIGH: '<StepsHighQueue>',
        LAMBDAG_MAX_MESSAGE_BYTES: '262144',
        ...expected.env,
        ...(expected.ecs.enabled ? ECS_ENV : {}),
      });
    }
  });

  it('gives every function the ECS settings where ECS is deployed, in the form lib/aws/config.ts reads', () => {
    for (const fn of FUNCTIONS) {
      const variables = functionEnvironment(template(), fn, (name) => name === 'EcsEnabled');
      expect(variables, fn).toMatchObject(ECS_ENV);
      const config = readConfig(variables);
      expect(config.ecs, fn).toMatchObject({
        cluster: '<EcsCluster>',
        taskDefinition: '<StepTaskDefinition>',
        container: 'step',
        launchType: 'FARGATE',
        subnets: [],
        securityGroups: [],
      });
    }
  });

  it('keeps the artifacts bucket private, encrypted, expiring and TLS-only', () => {
    const bucket = resource(template(), 'ArtifactsBucket').Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(JSON.stringify(bucket.BucketEncryption)).toContain('AES256');
    expect(JSON.stringify(bucket.LifecycleConfiguration)).toContain('ExpirationInDays');
    const policy = resource(template(), 'ArtifactsBucketPolicy').Properties;
    expect(render(policy.Bucket)).toBe('<ArtifactsBucket>');
    const statements = list(isObj(policy.PolicyDocument) ? policy.PolicyDocument.Statement : undefined);
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Principal: '*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
    const denied = isObj(statements[0]) ? list(statements[0].Resource).map(render) : [];
    expect(denied.sort()).toEqual(['<ArtifactsBucket.Arn>', '<ArtifactsBucket.Arn>/*']);
  });

  it('outputs the state machine ARN, the queue URLs, the bucket and the table names', () => {
    const outputs = Object.fromEntries(
      Object.entries(template().Outputs).map(([k, o]) => [k, render(o.Value)]),
    );
    expect(outputs).toMatchObject({
      RunStateMachineArn: '<RunStateMachine>',
      StepsQueueUrl: '<StepsQueue>',
      StepsHighQueueUrl: '<StepsHighQueue>',
      StepsDeadLetterQueueUrl: '<StepsDeadLetterQueue>',
      StepsHighDeadLetterQueueUrl: '<StepsHighDeadLetterQueue>',
      ArtifactsBucketName: '<ArtifactsBucket>',
      RunsTableName: '<RunsTable>',
      IdempotencyTableName: '<IdempotencyTable>',
      RetentionDays: String(expected.retentionDays),
    });
  });
});

/** The roles not run by a Lambda function, and who may assume them. */
const TRUSTED_SERVICE: Record<string, string> = {
  RunStateMachineRole: 'states.amazonaws.com',
  RunSchedulerRole: 'scheduler.amazonaws.com',
  StepTaskRole: 'ecs-tasks.amazonaws.com',
  StepTaskExecutionRole: 'ecs-tasks.amazonaws.com',
};

/** Wildcards in resources that stay within ours: objects of our bucket, revisions of our task definition, tasks of our cluster. */
/** What Step Functions needs to deliver a state machine's log (AWS's Step Functions guide), sorted. */
const LOG_DELIVERY = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
];

const OWN_WILDCARDS = new Set([
  '<ArtifactsBucket.Arn>/*',
  '<StepTaskDefinition>:*',
  '<EcsCluster>/task/*',
  '<RunStateMachine>/execution/*',
]);

describe.each(STAGES)('IAM in the %s template', (stage) => {
  const template = () => packages[stage].template;
  const ownResources = () => new Set(Object.keys(template().Resources));

  it('has no wildcard in any action, and every resource is one of ours', () => {
    const statements = iamStatements(template());
    expect(statements.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const s of statements) {
      if (s.raw.NotAction || s.raw.NotResource) problems.push(`${s.where}: NotAction/NotResource`);
      if (s.actions.length === 0) problems.push(`${s.where}: no action`);
      for (const action of s.actions) if (action.includes('*')) problems.push(`${s.where}: action ${action}`);
      if (s.resources.length === 0) problems.push(`${s.where}: no resource`);
      for (const res of s.resources) {
        // ECR's login is not resource-scoped: allowed alone in its statement, nowhere else.
        const login = s.actions.length === 1 && s.actions[0] === 'ecr:GetAuthorizationToken';
        if (
          res === '*' &&
          login &&
          s.resources.length === 1 &&
          s.where === 'StepTaskExecutionRole/stepTaskExecution'
        ) {
          continue;
        }
        // Step Functions' log delivery: CloudWatch Logs takes these actions on "*" only.
        if (
          res === '*' &&
          s.resources.length === 1 &&
          s.where === 'RunStateMachineRole/invokeRunFunctions' &&
          [...s.actions].sort().join() === LOG_DELIVERY.join()
        ) {
          continue;
        }
        // The image's repository is the stage's (custom.stages.<stage>.ecs.repository), in this account.
        if (res === IMAGE_REPOSITORY && s.where === 'StepTaskExecutionRole/stepTaskExecution') continue;
        if (res.includes('*') && !OWN_WILDCARDS.has(res)) problems.push(`${s.where}: resource ${res}`);
        const referenced = /^<([A-Za-z0-9]+)[.>]/.exec(res)?.[1];
        if (!referenced || !ownResources().has(referenced)) {
          problems.push(`${s.where}: resource ${res} is not one of this stack's`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('trusts only the service that runs each role, and attaches no managed policy', () => {
    for (const [id, role] of ofType(template(), 'AWS::IAM::Role')) {
      expect(list(role.Properties.ManagedPolicyArns), id).toEqual([]);
      const trust = role.Properties.AssumeRolePolicyDocument;
      const statements = list(isObj(trust) ? trust.Statement : undefined);
      expect(statements.length, id).toBe(1);
      expect(statements[0], id).toMatchObject({
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: TRUSTED_SERVICE[id] ?? 'lambda.amazonaws.com' },
      });
    }
  });

  // Which actions each role holds is checked against what the suite's requests used
  // (test/support/iamUsage.ts), not against a list kept here.
  it('gives each function a role of its own, and no shared role', () => {
    for (const fn of FUNCTIONS) {
      const roleId = `${logicalId(fn)}Role`;
      expect(render(resource(template(), `${logicalId(fn)}LambdaFunction`).Properties.Role)).toBe(
        `<${roleId}.Arn>`,
      );
    }
    // No shared role left behind for Serverless' default statements.
    expect(
      ofType(template(), 'AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual([...FUNCTIONS.map((fn) => `${logicalId(fn)}Role`), ...Object.keys(TRUSTED_SERVICE)].sort());
  });

  it('scopes the ECS permissions to the step cluster and passes the task roles to ECS only', () => {
    const conditions = Object.fromEntries(
      iamStatements(template())
        .filter((s) => s.actions.some((action) => /^(ecs|iam):/.test(action)))
        .map((s) => [`${s.where} ${s.actions.join(',')}`, s.raw.Condition]),
    );
    const inCluster = { ArnEquals: { 'ecs:cluster': { 'Fn::GetAtt': ['EcsCluster', 'Arn'] } } };
    // Nothing else, in no other role, has an ECS or IAM action.
    expect(conditions).toEqual({
      'StepWorkerEcsPolicy ecs:RunTask': inCluster,
      'StepWorkerEcsPolicy iam:PassRole': {
        StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      },
      'PollRunEcsPolicy ecs:DescribeTasks,ecs:StopTask': inCluster,
      'ExecutionEndedEcsPolicy ecs:DescribeTasks,ecs:StopTask': inCluster,
    });
    for (const id of ['StepWorkerEcsPolicy', 'PollRunEcsPolicy', 'ExecutionEndedEcsPolicy']) {
      expect(resource(template(), id).Condition, id).toBe('EcsEnabled');
    }
  });

  // Which actions on each resource: the suite's usage check (a task writes each effect as it
  // happens, the worker batches them, so their actions differ).
  it("gives the step task the stepWorker's data resources, sending step messages but not consuming them", () => {
    const worker = permissionsOf(template(), 'StepWorkerRole');
    const data = Object.fromEntries(
      Object.entries(worker)
        .filter(([res]) => !/LogGroup|StepTask|EcsCluster/.test(res))
        .map(([res, actions]) => [
          res,
          actions.filter((a) => !a.startsWith('sqs:') || a === 'sqs:SendMessage'),
        ]),
    );
    expect(Object.keys(data).sort()).toEqual([
      '<ArtifactsBucket.Arn>',
      '<ArtifactsBucket.Arn>/*',
      '<IdempotencyTable.Arn>',
      '<RunsTable.Arn>',
      '<StepsHighQueue.Arn>',
      '<StepsQueue.Arn>',
    ]);
    const task = permissionsOf(template(), 'StepTaskRole');
    expect(Object.keys(task).sort()).toEqual(Object.keys(data).sort());
    for (const queue of ['<StepsQueue.Arn>', '<StepsHighQueue.Arn>']) {
      expect(task[queue], queue).toEqual(['sqs:SendMessage']);
    }
  });

  it('lets ECS pull the step image and write the task log group, and nothing else', () => {
    expect(permissionsOf(template(), 'StepTaskExecutionRole')).toEqual({
      '*': ['ecr:GetAuthorizationToken'],
      [IMAGE_REPOSITORY]: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      '<StepTaskLogGroup.Arn>': ['logs:CreateLogStream', 'logs:PutLogEvents'],
    });
  });

  it('lets the state machine invoke its three functions, continue as a new execution of itself, deliver its log, and nothing else', () => {
    expect(render(resource(template(), 'RunStateMachine').Properties.RoleArn)).toBe(
      '<RunStateMachineRole.Arn>',
    );
    expect(permissionsOf(template(), 'RunStateMachineRole')).toEqual({
      '<StartRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<PollRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<FinalizeRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<RunStateMachine>': ['states:StartExecution'],
      '*': LOG_DELIVERY,
    });
  });
});

/**
 * Where a resource or output refers (Ref, GetAtt, DependsOn) to a resource that exists only
 * under a condition, outside that condition or an Fn::If on it: CloudFormation rejects
 * such a template, and nothing short of a deploy would tell.
 */
function referencesOutsideTheirCondition(template: Template): string[] {
  const conditionOf = new Map(
    Object.entries(template.Resources).flatMap(([id, r]) =>
      r.Condition ? [[id, r.Condition] as const] : [],
    ),
  );
  const problems: string[] = [];
  const check = (where: string, target: string, active: ReadonlySet<string>) => {
    const needs = conditionOf.get(target);
    if (needs && !active.has(needs))
      problems.push(`${where} refers to ${target}, which exists only if ${needs}`);
  };
  const walk = (where: string, value: unknown, active: ReadonlySet<string>) => {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walk(`${where}[${i}]`, item, active);
      return;
    }
    if (!isObj(value)) return;
    const branch = value['Fn::If'];
    if (Array.isArray(branch)) {
      walk(where, branch[1], new Set([...active, String(branch[0])]));
      walk(where, branch[2], active);
      return;
    }
    if (typeof value.Ref === 'string') check(where, value.Ref, active);
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) check(where, String(getAtt[0]), active);
    for (const [key, item] of Object.entries(value)) walk(`${where}.${key}`, item, active);
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    const active = new Set(r.Condition ? [r.Condition] : []);
    for (const target of list(r.DependsOn)) check(`${id}.DependsOn`, String(target), active);
    walk(id, r.Properties, active);
  }
  for (const [id, output] of Object.entries(template.Outputs)) {
    walk(`Outputs.${id}`, output.Value, new Set(output.Condition ? [output.Condition] : []));
  }
  return problems;
}

describe.each(STAGES)('ECS in the %s template', (stage) => {
  const template = () => packages[stage].template;
  const expected = PER_STAGE[stage];
  const container = () => {
    const containers = list(resource(template(), 'StepTaskDefinition').Properties.ContainerDefinitions);
    expect(containers.length).toBe(1);
    return containers[0] as Obj;
  };

  it('is deployed only where the stage enables it and gives it subnets (Condition EcsEnabled)', () => {
    const t = template();
    expect(conditionHolds(t, 'EcsEnabled')).toBe(expected.ecs.enabled);
    expect(t.Conditions?.EcsEnabled).toEqual({
      'Fn::And': [
        { 'Fn::Equals': [`enabled=${stage !== 'local'}`, 'enabled=true'] },
        { 'Fn::Not': [{ 'Fn::Equals': ['subnets=', 'subnets='] }] },
      ],
    });
    const conditioned = Object.entries(t.Resources).filter(([, r]) => r.Condition !== undefined);
    expect(Object.fromEntries(conditioned.map(([id, r]) => [id, r.Condition]))).toEqual(
      Object.fromEntries(ECS_RESOURCES.map((id) => [id, 'EcsEnabled'])),
    );
    for (const [id, output] of Object.entries(t.Outputs)) {
      const ecs = ['EcsClusterName', 'StepTaskDefinitionArn', 'StepTaskLogGroupName'].includes(id);
      expect(output.Condition, id).toBe(ecs ? 'EcsEnabled' : undefined);
    }
    // Where it is off, the functions have no LAMBDAG_ECS_* at all (startRun refuses ECS jobs).
    for (const fn of FUNCTIONS) {
      const off = functionEnvironment(t, fn, () => false);
      expect(
        Object.keys(off).filter((name) => name.startsWith('LAMBDAG_ECS_')),
        fn,
      ).toEqual([]);
    }
  });

  it('refers to the ECS resources only where they exist', () => {
    expect(referencesOutsideTheirCondition(template())).toEqual([]);
  });

  it('names the cluster and the task family as the embedded stack does', () => {
    expect(resource(template(), 'EcsCluster').Properties).toEqual({ ClusterName: `lambdag-${stage}` });
    expect(resource(template(), 'StepTaskDefinition').Properties.Family).toBe(`lambdag-${stage}-step`);
  });

  it('runs one essential container named step, on Fargate in awsvpc mode, as the task role', () => {
    const definition = resource(template(), 'StepTaskDefinition').Properties;
    expect(definition).toMatchObject({
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { OperatingSystemFamily: 'LINUX', CpuArchitecture: 'ARM64' },
    });
    expect(render(definition.TaskRoleArn)).toBe('<StepTaskRole.Arn>');
    expect(render(definition.ExecutionRoleArn)).toBe('<StepTaskExecutionRole.Arn>');
    // `step` is LAMBDAG_ECS_CONTAINER's default, the container RunTask's overrides name.
    expect(container()).toMatchObject({ Name: 'step', Essential: true, StopTimeout: 120 });
    expect(render(container().Image)).toBe(expected.ecs.image);
  });

  it("sends the container's output to a log group of its own, kept for the stage's log retention", () => {
    expect(container().LogConfiguration).toEqual({
      LogDriver: 'awslogs',
      Options: {
        'awslogs-group': { Ref: 'StepTaskLogGroup' },
        'awslogs-region': { Ref: 'AWS::Region' },
        'awslogs-stream-prefix': 'step',
      },
    });
    expect(resource(template(), 'StepTaskLogGroup').Properties).toEqual({
      LogGroupName: `/ecs/lambdag-${stage}-step`,
      RetentionInDays: expected.logRetentionDays,
    });
  });

  it("gives the container, as text, what the step runner reads of the functions' environment", () => {
    const environment = list(container().Environment).map(
      (entry) => entry as { Name: string; Value: unknown },
    );
    for (const { Name, Value } of environment) {
      expect(['string', 'object'], `${Name} is text or an intrinsic that makes text`).toContain(typeof Value);
    }
    const variables = Object.fromEntries(environment.map(({ Name, Value }) => [Name, render(Value)]));
    const worker = functionEnvironment(template(), 'stepWorker', () => true);
    const pollOnly = ['LAMBDAG_STALL_SECONDS', 'LAMBDAG_QUEUED_LOST_SECONDS', 'LAMBDAG_RUNNING_LOST_SECONDS'];
    const shared = Object.entries(worker).filter(
      ([name]) => name !== 'NODE_OPTIONS' && !name.startsWith('LAMBDAG_ECS_') && !pollOnly.includes(name),
    );
    expect(variables).toEqual({ AWS_REGION: '<AWS::Region>', ...Object.fromEntries(shared) });
    const config = readConfig(variables);
    expect(config.ecs, 'a task starts no tasks').toBeUndefined();
    expect(config.maxMessageBytes).toBe(262144);
  });

  it('lets only ECS tasks of this account assume the task role', () => {
    const trust = resource(template(), 'StepTaskRole').Properties.AssumeRolePolicyDocument;
    expect(list(isObj(trust) ? trust.Statement : undefined)).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'ecs-tasks.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
  });
});

describe.each(STAGES)('the state machine in the %s template', (stage) => {
  it('is run.asl.json with each function placeholder replaced by that function ARN', () => {
    const template = packages[stage].template;
    const definition = resource(template, 'RunStateMachine').Properties.DefinitionString;
    // Either a plain string, or Fn::Sub of [string, { name: intrinsic }].
    const sub = isObj(definition) ? definition['Fn::Sub'] : definition;
    const [text, variables] = Array.isArray(sub)
      ? [String(sub[0]), isObj(sub[1]) ? sub[1] : {}]
      : [String(sub), {}];
    const unknown: string[] = [];
    const actual = JSON.parse(
      text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
        if (!(name in variables)) unknown.push(name);
        return render(variables[name]);
      }),
    );
    expect(unknown, 'Fn::Sub variables without a value').toEqual([]);

    const source = readFileSync(join(root, 'statemachines/run.asl.json'), 'utf8');
    const wanted = JSON.parse(
      source.replace(/\$\{(\w+)FunctionArn\}/g, (_, name: string) => `<${name}LambdaFunction.Arn>`),
    );
    expect(actual).toEqual(wanted);

    const invoked = [...JSON.stringify(actual).matchAll(/<(\w+)\.Arn>/g)].map((m) => m[1]);
    expect(invoked.length).toBe(3);
    for (const id of invoked) expect(resource(template, String(id)).Type).toBe('AWS::Lambda::Function');
  });
});

describe.each(STAGES)('the end of a run execution in the %s template', (stage) => {
  const template = () => packages[stage].template;

  it("sends the run state machine's stopped, timed-out and failed executions to executionEnded", () => {
    const rules = ofType(template(), 'AWS::Events::Rule');
    expect(rules.map(([id]) => id)).toEqual(['RunExecutionEndedRule']);
    const rule = resource(template(), 'RunExecutionEndedRule').Properties;
    expect(rule.State).toBe('ENABLED');
    expect(rule.EventBusName).toBeUndefined();
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [{ Ref: 'RunStateMachine' }], status: ['ABORTED', 'TIMED_OUT', 'FAILED'] },
    });
    expect(list(rule.Targets).map((t) => (isObj(t) ? [t.Id, render(t.Arn)] : t))).toEqual([
      ['executionEnded', '<ExecutionEndedLambdaFunction.Arn>'],
    ]);
  });

  it('lets EventBridge invoke executionEnded for that rule only', () => {
    const permissions = ofType(template(), 'AWS::Lambda::Permission').map(([, p]) => p.Properties);
    expect(
      permissions.map((p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, render(v)]))),
    ).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: '<ExecutionEndedLambdaFunction.Arn>',
        Principal: 'events.amazonaws.com',
        SourceArn: '<RunExecutionEndedRule.Arn>',
      },
    ]);
  });

  it('gives executionEnded time to wind a run down for the cancel grace period', () => {
    const fn = resource(template(), 'ExecutionEndedLambdaFunction').Properties;
    expect(fn.Timeout).toBe(120);
    expect(render(fn.Role)).toBe('<ExecutionEndedRole.Arn>');
  });
});

describe.each(STAGES)('the job schedules in the %s template', (stage) => {
  const schedules = () => Object.fromEntries(ofType(packages[stage].template, 'AWS::Scheduler::Schedule'));

  it('has one EventBridge Scheduler schedule per job schedule deployed to the stage', () => {
    // examples/diamond: `every-minute` only on the local stage, `nightly` (disabled) everywhere.
    const expected =
      stage === 'local'
        ? ['ScheduleDiamondEveryMinute', 'ScheduleDiamondNightly']
        : ['ScheduleDiamondNightly'];
    expect(Object.keys(schedules()).sort()).toEqual(expected);
    expect(schedules().ScheduleDiamondNightly?.Properties).toMatchObject({
      Name: `lambdag-${stage}-diamond-nightly`,
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'DISABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
  });

  it('starts the run state machine with the job, its input and a client token naming the tick', () => {
    for (const [id, schedule] of Object.entries(schedules())) {
      const target = schedule.Properties.Target as Record<string, unknown>;
      expect(render(target.Arn), id).toBe('<RunStateMachine>');
      expect(render(target.RoleArn), id).toBe('<RunSchedulerRole.Arn>');
      const input = JSON.parse(String(target.Input)) as { job: string; input: unknown; clientToken: string };
      expect(input.job, id).toBe('diamond');
      // A tick delivered twice carries one token, so StartRun makes one run of it.
      expect(input.clientToken, id).toMatch(/^schedule\/diamond\/[a-z-]+\/<aws\.scheduler\.scheduled-time>$/);
    }
  });

  it('lets the scheduler start executions of the run state machine and nothing else', () => {
    expect(permissionsOf(packages[stage].template, 'RunSchedulerRole')).toEqual({
      '<RunStateMachine>': ['states:StartExecution'],
    });
  });
});

describe('deploying the local stage with nothing listening on the LocalStack port', () => {
  it('fails with a connection error instead of hanging', async () => {
    const result = await sls(['deploy', '--stage', 'local'], offlineEnv(scratch, port), 90_000);

    expect(result.signal, `killed by the spawn timeout; output:\n${result.output}`).toBeNull();
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/Inaccessible host|ECONNREFUSED/);
    expect(result.output).toContain(`127.0.0.1`);
    expect(result.output).toContain(String(port));
  }, 120_000);
});

describe('the state machine resolver (statemachines/definition.cjs)', () => {
  const resolver = createRequire(import.meta.url)('../../statemachines/definition.cjs') as {
    substitute: (value: unknown) => unknown;
    run: (api: { resolveConfigurationProperty: (path: string[]) => Promise<unknown> }) => Promise<unknown>;
  };

  it('turns a whole <Name>FunctionArn placeholder into Fn::GetAtt of that function', () => {
    expect(resolver.substitute({ Resource: `\${PollRunFunctionArn}`, Next: 'X' })).toEqual({
      Resource: { 'Fn::GetAtt': ['PollRunLambdaFunction', 'Arn'] },
      Next: 'X',
    });
  });

  it('rejects any other placeholder, naming where it is', () => {
    expect(() => resolver.substitute({ States: { A: { Resource: `arn:\${AWS::Region}` } } })).toThrow(
      /\$\.States\.A\.Resource/,
    );
  });

  it('rejects a definition that invokes a function serverless.yml does not declare', async () => {
    const onlyStartRun = async () => ({ startRun: {} });
    await expect(resolver.run({ resolveConfigurationProperty: onlyStartRun })).rejects.toThrow(
      /pollRun, finalizeRun/,
    );
  });
});
