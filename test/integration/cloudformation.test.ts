// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Fn::Sub strings are CloudFormation templates, not JavaScript ones
import {
  CloudFormationClient,
  CreateChangeSetCommand,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  ListStackResourcesCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  ListQueuesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import AdmZip from 'adm-zip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, clientConfig, createAwsClients } from '../../lib/aws/clients.ts';
import { type DeployTarget, startDeployTarget } from '../../local/deployTarget.ts';

/**
 * The deploy target's CloudFormation with templates of our own (client-cloudformation, as
 * any tool would call it): intrinsics and conditions, recorded-only types, a failed create
 * or update rolled back, and a deployed function running its zip as its template's role.
 */

let target: DeployTarget;
let cfn: CloudFormationClient;
let admin: AwsClients;
const CODE_BUCKET = 'cfn-test-code';

beforeAll(async () => {
  target = await startDeployTarget({ logLevel: 'SILENT' });
  cfn = new CloudFormationClient(clientConfig('cloudformation', target.clientOptions));
  admin = createAwsClients(target.clientOptions);
  await admin.s3.send(new CreateBucketCommand({ Bucket: CODE_BUCKET }));
}, 60_000);

afterAll(async () => {
  await target?.stop();
});

async function settled(stackName: string): Promise<Stack> {
  for (let i = 0; i < 600; i++) {
    const { Stacks = [] } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks[0] as Stack;
    if (!String(stack.StackStatus).endsWith('_IN_PROGRESS')) return stack;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${stackName} is still in progress`);
}

async function create(stackName: string, template: unknown): Promise<Stack> {
  await cfn.send(new CreateStackCommand({ StackName: stackName, TemplateBody: JSON.stringify(template) }));
  return settled(stackName);
}

async function update(stackName: string, template: unknown): Promise<Stack> {
  const ChangeSetName = `update-${Date.now()}`;
  await cfn.send(
    new CreateChangeSetCommand({
      StackName: stackName,
      ChangeSetName,
      ChangeSetType: 'UPDATE',
      TemplateBody: JSON.stringify(template),
    }),
  );
  await cfn.send(new ExecuteChangeSetCommand({ StackName: stackName, ChangeSetName }));
  return settled(stackName);
}

async function failures(stackName: string): Promise<string[]> {
  const { StackEvents = [] } = await cfn.send(new DescribeStackEventsCommand({ StackName: stackName }));
  return StackEvents.filter((e) => e.ResourceStatus?.endsWith('_FAILED')).map(
    (e) => `${e.LogicalResourceId} ${e.ResourceStatus}: ${e.ResourceStatusReason}`,
  );
}

async function queueNames(): Promise<string[]> {
  const { QueueUrls = [] } = await admin.sqs.send(new ListQueuesCommand({}));
  return QueueUrls.map((url) => url.slice(url.lastIndexOf('/') + 1)).sort();
}

const queuesTemplate = (visibilityTimeout: number) => ({
  Conditions: {
    IsProd: { 'Fn::Equals': ['local', 'prod'] },
  },
  Resources: {
    Work: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: { 'Fn::Sub': '${AWS::StackName}-work' },
        VisibilityTimeout: visibilityTimeout,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dead', 'Arn'] }, maxReceiveCount: 3 },
      },
    },
    Dead: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'dlq']] } },
    },
    ProdOnly: { Type: 'AWS::SQS::Queue', Condition: 'IsProd', Properties: { QueueName: 'prod-only' } },
    Alarms: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'alarms' } },
  },
  Outputs: {
    WorkUrl: { Value: { Ref: 'Work' } },
    Stage: { Value: { 'Fn::If': ['IsProd', 'prod', 'not-prod'] } },
    Days: { Value: { 'Fn::Select': [0, { 'Fn::Split': [',', '7,'] }] } },
    DeadArn: { Value: { 'Fn::Sub': ['${Arn}', { Arn: { 'Fn::GetAtt': 'Dead.Arn' } }] } },
  },
});

describe('CloudFormation in the deploy target', () => {
  it('creates what the template declares, in dependency order, with its conditions and outputs', async () => {
    const stack = await create('queues', queuesTemplate(30));

    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    expect(await queueNames()).toEqual(['queues-dlq', 'queues-work']);
    const outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    expect(outputs).toEqual({
      WorkUrl: expect.stringMatching(/\/queues-work$/),
      Stage: 'not-prod',
      Days: '7',
      DeadArn: 'arn:aws:sqs:us-east-1:000000000000:queues-dlq',
    });
    const { Attributes } = await admin.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: outputs.WorkUrl, AttributeNames: ['All'] }),
    );
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}').deadLetterTargetArn).toBe(outputs.DeadArn);
    const { StackResourceSummaries = [] } = await cfn.send(
      new ListStackResourcesCommand({ StackName: 'queues' }),
    );
    expect(
      StackResourceSummaries.find((r) => r.LogicalResourceId === 'Alarms')?.ResourceStatusReason,
    ).toMatch(/Recorded only/);
  });

  it('rolls a failed update back to the resources as they were (UPDATE_ROLLBACK_COMPLETE)', async () => {
    const broken = queuesTemplate(60);
    const template = {
      ...broken,
      Resources: {
        ...broken.Resources,
        Extra: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'extra' } },
      },
    };
    (template.Resources as Record<string, unknown>).Broken = {
      Type: 'AWS::EC2::Instance',
      DependsOn: ['Work', 'Extra'],
    };

    const stack = await update('queues', template);

    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    expect(stack.StackStatusReason).toContain('The following resource(s) failed to update: [Broken]');
    expect(await failures('queues')).toEqual([
      'Broken CREATE_FAILED: Resource type AWS::EC2::Instance is not supported by the embedded stack',
    ]);
    expect(await queueNames()).toEqual(['queues-dlq', 'queues-work']);
    const url = (stack.Outputs ?? []).find((o) => o.OutputKey === 'WorkUrl')?.OutputValue;
    const { Attributes } = await admin.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout'] }),
    );
    expect(Attributes?.VisibilityTimeout).toBe('30');
  });

  it('refuses a template whose resources depend on each other in a circle, before creating anything', async () => {
    const circular = {
      Resources: {
        A: { Type: 'AWS::SQS::Queue', DependsOn: 'B', Properties: { QueueName: 'circle-a' } },
        B: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::GetAtt': ['A', 'QueueName'] } } },
      },
    };

    await expect(
      cfn.send(new CreateStackCommand({ StackName: 'circle', TemplateBody: JSON.stringify(circular) })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(/Circular dependency between resources/),
    });
    expect(await queueNames()).not.toContain('circle-a');
  });

  it('fails a create at the resource that cannot be made, and rolls it back (ROLLBACK_COMPLETE)', async () => {
    const stack = await create('missing-code', {
      Resources: {
        Early: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'early' } },
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: lambdaTrust } },
        Fn: {
          Type: 'AWS::Lambda::Function',
          DependsOn: 'Early',
          Properties: {
            Handler: 'index.handler',
            Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
            Code: { S3Bucket: CODE_BUCKET, S3Key: 'no-such.zip' },
          },
        },
      },
    });

    expect(stack.StackStatus).toBe('ROLLBACK_COMPLETE');
    expect(stack.StackStatusReason).toContain('The following resource(s) failed to create: [Fn]');
    expect(await failures('missing-code')).toEqual([
      expect.stringMatching(/^Fn CREATE_FAILED: Error occurred while GetObject\. S3 Error Code: NoSuchKey/),
    ]);
    expect(await queueNames()).not.toContain('early');
  });

  it('runs a deployed function from its zip, with its environment, timeout and role, and its event rules, from the template', async () => {
    const zip = new AdmZip();
    // Returns what its execution environment says: the key it signs with and the template's settings.
    zip.addFile(
      'src/probe.mjs',
      Buffer.from(
        'export const handler = async (event, context) => ({ key: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, greeting: process.env.GREETING, memory: context.memoryLimitInMB, remaining: context.getRemainingTimeInMillis(), event });',
      ),
    );
    await admin.s3.send(
      new PutObjectCommand({ Bucket: CODE_BUCKET, Key: 'probe.zip', Body: zip.toBuffer() }),
    );
    const stack = await create('probe', {
      Resources: {
        Allowed: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'probe-allowed' } },
        Other: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'probe-other' } },
        ProbeRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: lambdaTrust,
            Policies: [
              {
                PolicyName: 'send',
                PolicyDocument: {
                  Statement: [
                    {
                      Effect: 'Allow',
                      Action: 'sqs:SendMessage',
                      Resource: { 'Fn::GetAtt': ['Allowed', 'Arn'] },
                    },
                  ],
                },
              },
            ],
          },
        },
        Probe: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            FunctionName: 'probe',
            Handler: 'src/probe.handler',
            Runtime: 'nodejs22.x',
            MemorySize: 256,
            Timeout: 7,
            Role: { 'Fn::GetAtt': ['ProbeRole', 'Arn'] },
            Environment: { Variables: { GREETING: { 'Fn::Sub': 'hello from ${AWS::StackName}' } } },
            Code: { S3Bucket: CODE_BUCKET, S3Key: 'probe.zip' },
          },
        },
        MachineRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            AssumeRolePolicyDocument: statesTrust,
            Policies: [
              {
                PolicyName: 'invoke',
                PolicyDocument: {
                  Statement: [
                    {
                      Effect: 'Allow',
                      Action: 'lambda:InvokeFunction',
                      Resource: { 'Fn::GetAtt': ['Probe', 'Arn'] },
                    },
                  ],
                },
              },
            ],
          },
        },
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'probe',
            RoleArn: { 'Fn::GetAtt': ['MachineRole', 'Arn'] },
            DefinitionString: {
              'Fn::Sub': [
                '{"StartAt":"Probe","States":{"Probe":{"Type":"Task","Resource":"${ProbeArn}","End":true}}}',
                { ProbeArn: { 'Fn::GetAtt': ['Probe', 'Arn'] } },
              ],
            },
          },
        },
        // The execution's end, on the default bus, invokes the probe: for this rule only.
        Ended: {
          Type: 'AWS::Events::Rule',
          Properties: { EventPattern: endedPattern, Targets: [probeTarget] },
        },
        Unpermitted: {
          Type: 'AWS::Events::Rule',
          Properties: { EventPattern: endedPattern, Targets: [probeTarget] },
        },
        EndedPermission: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: { 'Fn::GetAtt': ['Probe', 'Arn'] },
            Principal: 'events.amazonaws.com',
            SourceArn: { 'Fn::GetAtt': ['Ended', 'Arn'] },
          },
        },
      },
      Outputs: {
        Machine: { Value: { Ref: 'Machine' } },
        Allowed: { Value: { Ref: 'Allowed' } },
        Other: { Value: { Ref: 'Other' } },
      },
    });
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    const outputs = Object.fromEntries(
      (stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue as string]),
    );

    const { executionArn } = await admin.sfn.send(
      new StartExecutionCommand({ stateMachineArn: outputs.Machine, input: '{"ping":1}' }),
    );
    let execution = await admin.sfn.send(new DescribeExecutionCommand({ executionArn }));
    for (let i = 0; i < 200 && execution.status === 'RUNNING'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      execution = await admin.sfn.send(new DescribeExecutionCommand({ executionArn }));
    }

    expect(execution.status, execution.cause).toBe('SUCCEEDED');
    const probe = JSON.parse(execution.output ?? '{}');
    expect(probe).toMatchObject({ greeting: 'hello from probe', memory: '256', event: { ping: 1 } });
    expect(probe.remaining).toBeGreaterThan(0);
    expect(probe.remaining).toBeLessThanOrEqual(7_000);
    const ended = target.events
      .events()
      .find(
        (e) =>
          (e.event.detail as { executionArn?: string; status?: string }).executionArn === executionArn &&
          (e.event.detail as { status?: string }).status === 'SUCCEEDED',
      );
    const deliveries = await ended?.deliveries;
    expect(
      deliveries
        ?.map((d) => ({
          rule: d.rule.replace(/-[0-9A-F]+$/, ''),
          error: d.error,
          status: (d.result as { event?: { detail?: { status?: string } } } | undefined)?.event?.detail
            ?.status,
        }))
        .sort((a, b) => a.rule.localeCompare(b.rule)),
    ).toEqual([
      { rule: 'probe-Ended', error: undefined, status: 'SUCCEEDED' },
      {
        rule: 'probe-Unpermitted',
        error: expect.stringMatching(/no AWS::Lambda::Permission lets events.amazonaws.com invoke probe/),
        status: undefined,
      },
    ]);
    // The key the function signs with is a session of its role, which may send to one queue only.
    const asFunction = new SQSClient({
      ...clientConfig('sqs', {
        ...target.clientOptions,
        credentials: { accessKeyId: probe.key, secretAccessKey: probe.secret },
      }),
      useQueueUrlAsEndpoint: false,
    });
    await asFunction.send(new SendMessageCommand({ QueueUrl: outputs.Allowed, MessageBody: 'ok' }));
    await expect(
      asFunction.send(new SendMessageCommand({ QueueUrl: outputs.Other, MessageBody: 'no' })),
    ).rejects.toThrow(
      /is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:000000000000:probe-other/,
    );
  });

  it('deletes every resource of a stack (DELETE_COMPLETE)', async () => {
    await cfn.send(new DeleteStackCommand({ StackName: 'queues' }));
    await cfn.send(new DeleteStackCommand({ StackName: 'probe' }));
    for (const name of ['queues', 'probe']) {
      const { Stacks = [] } = await cfn
        .send(new DescribeStacksCommand({ StackName: name }))
        .catch(() => ({ Stacks: [] }));
      if (Stacks.length > 0) await settled(Stacks[0]?.StackId as string);
    }

    expect(await queueNames()).toEqual([]);
    expect(target.lambda.list()).toEqual([]);
  });
});

const endedPattern = {
  source: ['aws.states'],
  'detail-type': ['Step Functions Execution Status Change'],
  detail: { stateMachineArn: [{ Ref: 'Machine' }], status: ['SUCCEEDED'] },
};
const probeTarget = { Id: 'probe', Arn: { 'Fn::GetAtt': ['Probe', 'Arn'] } };

const lambdaTrust = {
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};
const statesTrust = {
  Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};
