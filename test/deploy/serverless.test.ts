import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The deployed system as Serverless packages it: `sls package --stage local|dev`
 * runs fully offline (no AWS, no LocalStack) and the CloudFormation it writes is
 * checked here. Nothing these tests start talks to anything but 127.0.0.1.
 */

const root = join(import.meta.dirname, '../..');
const slsBin = join(root, 'node_modules/serverless/bin/serverless.js');
const FUNCTIONS = ['startRun', 'pollRun', 'finalizeRun', 'stepWorker'] as const;
const STAGES = ['local', 'dev'] as const;
type Stage = (typeof STAGES)[number];

/** What custom.stages in serverless.yml says for each packaged stage. */
const PER_STAGE = {
  local: {
    maxConcurrency: 8,
    visibilityTimeout: 30,
    workerTimeout: 30,
    env: {
      LAMBDAG_MAX_RECEIVE_COUNT: '5',
      LAMBDAG_STALL_SECONDS: '20',
      LAMBDAG_QUEUED_LOST_SECONDS: '30',
      LAMBDAG_RUNNING_LOST_SECONDS: '45',
    },
  },
  dev: {
    maxConcurrency: 50,
    visibilityTimeout: 5400,
    workerTimeout: 900,
    env: {
      LAMBDAG_MAX_RECEIVE_COUNT: '5',
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
}
interface Template {
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, { Value: unknown }>;
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
  }
  return JSON.stringify(value);
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
  Effect: unknown;
  actions: string[];
  resources: string[];
  raw: Obj;
}

/** Every statement of every identity policy: inline role policies, IAM policies, managed policies. */
/**
 * The run state machine's role may start executions of the machine itself (continue-as-new).
 * A Ref would be a circular dependency, so serverless.yml builds that ARN from the
 * machine's name; read it back as the machine.
 */
function ownStateMachineByName(resource: string): string {
  return /^arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:lambdag-(local|dev|prod)-run$/.test(
    resource,
  )
    ? '<RunStateMachine>'
    : resource;
}

function iamStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  const collect = (where: string, document: unknown) => {
    for (const raw of list(isObj(document) ? document.Statement : undefined)) {
      if (!isObj(raw)) throw new Error(`${where}: a statement that is not an object`);
      statements.push({
        where,
        Effect: raw.Effect,
        actions: list(raw.Action ?? raw.NotAction).map(String),
        resources: list(raw.Resource ?? raw.NotResource)
          .map(render)
          .map(ownStateMachineByName),
        raw,
      });
    }
  };
  for (const [id, role] of ofType(template, 'AWS::IAM::Role')) {
    for (const policy of list(role.Properties.Policies)) {
      if (isObj(policy)) collect(`${id}/${String(policy.PolicyName)}`, policy.PolicyDocument);
    }
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, policy] of ofType(template, type)) collect(id, policy.Properties.PolicyDocument);
  }
  return statements;
}

/** role → rendered resource → sorted actions, from the role's Allow statements. */
function permissionsOf(template: Template, roleId: string): Record<string, string[]> {
  const byResource: Record<string, Set<string>> = {};
  for (const statement of iamStatements(template)) {
    if (!statement.where.startsWith(`${roleId}/`) || statement.Effect !== 'Allow') continue;
    for (const res of statement.resources) {
      byResource[res] ??= new Set();
      for (const action of statement.actions) byResource[res].add(action);
    }
  }
  return Object.fromEntries(Object.entries(byResource).map(([res, actions]) => [res, [...actions].sort()]));
}

// ---- packaging both stages once -----------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'lambdag-deploy-test-'));
const packages = {} as Record<Stage, Packaged>;
let port = 0;

beforeAll(async () => {
  port = await closedPort();
  // One after the other: both builds use the same .esbuild work directory.
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
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const logicalId = (fn: string) => `${fn[0]!.toUpperCase()}${fn.slice(1)}`;

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

  it('declares the functions, queues, tables, bucket, state machine, event source mappings and alarms', () => {
    const t = template();
    const count = (type: string) => ofType(t, type).length;
    expect(count('AWS::Lambda::Function')).toBe(4);
    expect(count('AWS::SQS::Queue')).toBe(4);
    expect(count('AWS::DynamoDB::Table')).toBe(2);
    expect(count('AWS::StepFunctions::StateMachine')).toBe(1);
    expect(count('AWS::Lambda::EventSourceMapping')).toBe(2);
    expect(count('AWS::CloudWatch::Alarm')).toBe(3);
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

  it('alarms when a DLQ holds a message and when run executions fail', () => {
    const alarms = ofType(template(), 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const watched = (namespace: string, metric: string) =>
      alarms
        .filter((a) => a.Namespace === namespace && a.MetricName === metric)
        .map((a) => {
          expect(a).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
          expect(list(a.AlarmActions).map(render)).toEqual(['<AlarmTopic>']);
          return list(a.Dimensions).map((d) => (isObj(d) ? `${String(d.Name)}=${render(d.Value)}` : ''));
        });
    expect(watched('AWS/SQS', 'ApproximateNumberOfMessagesVisible').sort()).toEqual([
      ['QueueName=<StepsDeadLetterQueue.QueueName>'],
      ['QueueName=<StepsHighDeadLetterQueue.QueueName>'],
    ]);
    expect(watched('AWS/States', 'ExecutionsFailed')).toEqual([['StateMachineArn=<RunStateMachine>']]);
  });

  it('sets the resource names and the per-stage settings in every function environment', () => {
    for (const fn of FUNCTIONS) {
      const environment = resource(template(), `${logicalId(fn)}LambdaFunction`).Properties.Environment;
      const variables = isObj(environment) && isObj(environment.Variables) ? environment.Variables : {};
      expect(Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, render(v)]))).toEqual({
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
    });
  });
});

/** The roles not run by a Lambda function, and who may assume them. */
const TRUSTED_SERVICE: Record<string, string> = {
  RunStateMachineRole: 'states.amazonaws.com',
  RunSchedulerRole: 'scheduler.amazonaws.com',
};

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
        // The one wildcard allowed: the objects of our bucket, `<bucket ARN>/*`.
        if (res.replace(/^(<ArtifactsBucket\.Arn>)\/\*$/, '$1').includes('*')) {
          problems.push(`${s.where}: resource ${res}`);
        }
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

  it('gives each function a role of its own with exactly the actions it uses', () => {
    const bucketObjects = '<ArtifactsBucket.Arn>/*';
    const s3 = ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'];
    const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    const expected: Record<string, Record<string, string[]>> = {
      StartRunRole: {
        '<StartRunLogGroup.Arn>': logs,
        '<RunsTable.Arn>': [
          'dynamodb:BatchWriteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        [bucketObjects]: s3,
        '<StepsQueue.Arn>': ['sqs:SendMessage'],
        '<StepsHighQueue.Arn>': ['sqs:SendMessage'],
      },
      PollRunRole: {
        '<PollRunLogGroup.Arn>': logs,
        '<RunsTable.Arn>': [
          'dynamodb:BatchGetItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        [bucketObjects]: s3,
        '<StepsQueue.Arn>': ['sqs:SendMessage'],
        '<StepsHighQueue.Arn>': ['sqs:SendMessage'],
      },
      FinalizeRunRole: {
        '<FinalizeRunLogGroup.Arn>': logs,
        '<RunsTable.Arn>': ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        [bucketObjects]: s3,
      },
      StepWorkerRole: {
        '<StepWorkerLogGroup.Arn>': logs,
        '<RunsTable.Arn>': [
          'dynamodb:BatchGetItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        '<IdempotencyTable.Arn>': [
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
        ],
        [bucketObjects]: s3,
        ...Object.fromEntries(
          ['<StepsQueue.Arn>', '<StepsHighQueue.Arn>'].map((queue) => [
            queue,
            [
              'sqs:ChangeMessageVisibility',
              'sqs:DeleteMessage',
              'sqs:GetQueueAttributes',
              'sqs:ReceiveMessage',
              'sqs:SendMessage',
            ],
          ]),
        ),
      },
    };
    for (const fn of FUNCTIONS) {
      const roleId = `${logicalId(fn)}Role`;
      expect(render(resource(template(), `${logicalId(fn)}LambdaFunction`).Properties.Role)).toBe(
        `<${roleId}.Arn>`,
      );
      expect(permissionsOf(template(), roleId), roleId).toEqual(expected[roleId]);
    }
    // No shared role left behind for Serverless' default statements.
    expect(
      ofType(template(), 'AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual([...Object.keys(expected), ...Object.keys(TRUSTED_SERVICE)].sort());
  });

  it('lets the state machine invoke its three functions, continue as a new execution of itself, and nothing else', () => {
    expect(render(resource(template(), 'RunStateMachine').Properties.RoleArn)).toBe(
      '<RunStateMachineRole.Arn>',
    );
    expect(permissionsOf(template(), 'RunStateMachineRole')).toEqual({
      '<StartRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<PollRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<FinalizeRunLambdaFunction.Arn>': ['lambda:InvokeFunction'],
      '<RunStateMachine>': ['states:StartExecution'],
    });
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
