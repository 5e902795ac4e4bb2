import { randomBytes, randomUUID } from 'node:crypto';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DeleteBucketCommand, GetObjectCommand, NoSuchBucket } from '@aws-sdk/client-s3';
import {
  DeleteQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { type ProvisionClients, provisionerFor } from '../resources.ts';
import type { DeployedFunctions } from './deployedFunctions.ts';
import type { DeployedIam } from './deployedIam.ts';
import type { DeployedSchedules } from './deployedSchedules.ts';
import { ProvisionError } from './provisionError.ts';
import type { ResourceValues } from './template.ts';

/** What provisioners work with: the emulators (as the stack's admin) and the local services. */
export interface ProvisionContext {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly clients: ProvisionClients;
  readonly iam: DeployedIam;
  readonly functions: DeployedFunctions;
  readonly schedules: DeployedSchedules;
}

/** A resource as it exists: its physical id and what Ref and Fn::GetAtt give. */
export interface ProvisionedValues extends ResourceValues {
  readonly physicalId: string;
}

type Props = Record<string, unknown>;

/**
 * How one resource type is created, updated and deleted. Without `update`, a changed
 * resource is replaced (created anew, then the old one deleted). `emulated: false` types
 * are recorded with the names AWS would give them, and nothing runs locally.
 */
export interface ResourceProvisioner {
  readonly emulated: boolean;
  create(logicalId: string, props: Props, context: ProvisionContext): Promise<ProvisionedValues>;
  update?(
    logicalId: string,
    props: Props,
    previous: ProvisionedValues,
    context: ProvisionContext,
  ): Promise<ProvisionedValues>;
  delete(previous: ProvisionedValues, context: ProvisionContext): Promise<void>;
}

/** A name CloudFormation generates for a resource without one: `<stack>-<logical id>-<random>`. */
export function generatedName(
  context: ProvisionContext,
  logicalId: string,
  maxLength = 64,
  lowerCase = false,
): string {
  const suffix = randomBytes(6).toString('hex').toUpperCase();
  const name = `${context.stackName}-${logicalId}`.slice(0, maxLength - suffix.length - 1);
  const full = `${name}-${suffix}`;
  return lowerCase ? full.toLowerCase() : full;
}

const queue: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const QueueName = String(props.QueueName ?? generatedName(context, logicalId, 80));
    const created = await (
      provisionerFor('AWS::SQS::Queue') as NonNullable<ReturnType<typeof provisionerFor>>
    )(logicalId, { ...props, QueueName }, context.clients, context);
    return { physicalId: created.ref, ref: created.ref, attributes: created.attributes };
  },
  async update(logicalId, props, previous, context) {
    if (props.QueueName !== undefined && props.QueueName !== previous.attributes.QueueName) {
      const replaced = await queue.create(logicalId, props, context);
      await queue.delete(previous, context);
      return replaced;
    }
    const Attributes: Record<string, string> = {};
    for (const key of ['VisibilityTimeout', 'MaximumMessageSize', 'MessageRetentionPeriod', 'DelaySeconds']) {
      if (props[key] !== undefined) Attributes[key] = String(props[key]);
    }
    if (props.RedrivePolicy) Attributes.RedrivePolicy = JSON.stringify(props.RedrivePolicy);
    await context.clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: previous.ref, Attributes }));
    return previous;
  },
  async delete(previous, { clients }) {
    await clients.sqs
      .send(new DeleteQueueCommand({ QueueUrl: previous.ref }))
      .catch(ignore(QueueDoesNotExist));
  },
};

const table: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const TableName = String(props.TableName ?? generatedName(context, logicalId, 255));
    const created = await (
      provisionerFor('AWS::DynamoDB::Table') as NonNullable<ReturnType<typeof provisionerFor>>
    )(logicalId, { ...props, TableName }, context.clients, context);
    return { physicalId: created.ref, ref: created.ref, attributes: created.attributes };
  },
  // Billing, TTL and backups change in place; the keys are fixed at creation (a new name replaces).
  async update(logicalId, props, previous, context) {
    if (props.TableName !== undefined && props.TableName !== previous.ref) {
      const replaced = await table.create(logicalId, props, context);
      await table.delete(previous, context);
      return replaced;
    }
    return previous;
  },
  async delete(previous, { clients }) {
    await clients.dynamodb
      .send(new DeleteTableCommand({ TableName: previous.ref }))
      .catch(ignore(ResourceNotFoundException));
  },
};

const bucket: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const BucketName = String(props.BucketName ?? generatedName(context, logicalId, 63, true));
    const created = await (
      provisionerFor('AWS::S3::Bucket') as NonNullable<ReturnType<typeof provisionerFor>>
    )(logicalId, { ...props, BucketName }, context.clients, context);
    return {
      physicalId: created.ref,
      ref: created.ref,
      attributes: {
        ...created.attributes,
        DomainName: `${created.ref}.s3.amazonaws.com`,
        RegionalDomainName: `${created.ref}.s3.${context.region}.amazonaws.com`,
      },
    };
  },
  async update(logicalId, props, previous, context) {
    if (props.BucketName !== undefined && props.BucketName !== previous.ref) {
      const replaced = await bucket.create(logicalId, props, context);
      await bucket.delete(previous, context);
      return replaced;
    }
    return previous;
  },
  // A bucket with objects in it is not deleted: the stack's delete fails, as on AWS.
  async delete(previous, { clients }) {
    await clients.s3.send(new DeleteBucketCommand({ Bucket: previous.ref })).catch(ignore(NoSuchBucket));
  },
};

const bucketPolicy: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, { iam }) {
    const name = String(props.Bucket);
    iam.putBucketPolicy(name, logicalId, props.PolicyDocument);
    return { physicalId: name, ref: name, attributes: {} };
  },
  async update(logicalId, props, previous, context) {
    await bucketPolicy.delete(previous, context);
    return bucketPolicy.create(logicalId, props, context);
  },
  async delete(previous, { iam }) {
    iam.deleteBucketPolicy(previous.ref);
  },
};

const role: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.RoleName ?? generatedName(context, logicalId, 64));
    const { arn } = context.iam.putRole(
      logicalId,
      name,
      props.AssumeRolePolicyDocument,
      (props.Policies ?? []) as { PolicyName?: unknown; PolicyDocument?: unknown }[],
    );
    return {
      physicalId: name,
      ref: name,
      attributes: { Arn: arn, RoleId: `AROA${randomBytes(8).toString('hex').toUpperCase()}` },
    };
  },
  async update(logicalId, props, previous, context) {
    if (props.RoleName !== undefined && props.RoleName !== previous.ref) {
      const replaced = await role.create(logicalId, props, context);
      await role.delete(previous, context);
      return replaced;
    }
    context.iam.putRole(
      logicalId,
      previous.ref,
      props.AssumeRolePolicyDocument,
      (props.Policies ?? []) as never[],
    );
    return previous;
  },
  async delete(previous, { iam }) {
    iam.deleteRole(previous.ref);
  },
};

const policy: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const id = `${context.stackName.slice(0, 5)}-${logicalId.slice(0, 10)}-${randomBytes(6).toString('hex').toUpperCase()}`;
    context.iam.putPolicy(
      id,
      logicalId,
      String(props.PolicyName ?? logicalId),
      ((props.Roles ?? []) as unknown[]).map(String),
      props.PolicyDocument,
    );
    return { physicalId: id, ref: id, attributes: {} };
  },
  async update(logicalId, props, previous, { iam }) {
    iam.putPolicy(
      previous.ref,
      logicalId,
      String(props.PolicyName ?? logicalId),
      ((props.Roles ?? []) as unknown[]).map(String),
      props.PolicyDocument,
    );
    return previous;
  },
  async delete(previous, { iam }) {
    iam.deletePolicy(previous.ref);
  },
};

const lambdaFunction: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.FunctionName ?? generatedName(context, logicalId, 64));
    const version = await context.functions.deployFunction(name, props, await codeOf(props, context));
    return { physicalId: name, ref: name, attributes: { Arn: version.functionArn } };
  },
  async update(logicalId, props, previous, context) {
    if (props.FunctionName !== undefined && props.FunctionName !== previous.ref) {
      const replaced = await lambdaFunction.create(logicalId, props, context);
      await lambdaFunction.delete(previous, context);
      return replaced;
    }
    await context.functions.deployFunction(previous.ref, props, await codeOf(props, context));
    return previous;
  },
  async delete(previous, { functions }) {
    await functions.deleteFunction(previous.ref);
  },
};

const eventSourceMapping: ResourceProvisioner = {
  emulated: true,
  async create(_logicalId, props, context) {
    const uuid = randomUUID();
    await context.functions.createEventSourceMapping(
      uuid,
      props,
      await queueUrlOf(String(props.EventSourceArn), context),
    );
    return { physicalId: uuid, ref: uuid, attributes: {} };
  },
  async delete(previous, { functions }) {
    await functions.deleteEventSourceMapping(previous.ref);
  },
};

const stateMachine: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.StateMachineName ?? generatedName(context, logicalId, 80));
    const arn = context.functions.deployStateMachine(name, props);
    return { physicalId: arn, ref: arn, attributes: { Arn: arn, Name: name } };
  },
  async update(logicalId, props, previous, context) {
    if (props.StateMachineName !== undefined && props.StateMachineName !== previous.attributes.Name) {
      const replaced = await stateMachine.create(logicalId, props, context);
      await stateMachine.delete(previous, context);
      return replaced;
    }
    context.functions.deployStateMachine(String(previous.attributes.Name), props);
    return previous;
  },
  async delete(previous, { functions }) {
    functions.deleteStateMachine(previous.ref);
  },
};

const schedule: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.Name ?? generatedName(context, logicalId, 64));
    context.schedules.put(name, props);
    const arn = `arn:aws:scheduler:${context.region}:${context.accountId}:schedule/${String(props.GroupName ?? 'default')}/${name}`;
    return { physicalId: name, ref: name, attributes: { Arn: arn } };
  },
  async update(logicalId, props, previous, context) {
    if (props.Name !== undefined && props.Name !== previous.ref) {
      const replaced = await schedule.create(logicalId, props, context);
      await schedule.delete(previous, context);
      return replaced;
    }
    context.schedules.put(previous.ref, props);
    return previous;
  },
  async delete(previous, { schedules }) {
    schedules.delete(previous.ref);
  },
};

/** A type with no local behaviour: recorded, with the Ref and Arn AWS would give it. */
function recordedOnly(
  nameProperty: string | undefined,
  arnOf: (name: string, context: ProvisionContext) => string | undefined,
  refIsArn = false,
): ResourceProvisioner {
  return {
    emulated: false,
    async create(logicalId, props, context) {
      const name = String((nameProperty && props[nameProperty]) ?? generatedName(context, logicalId));
      const arn = arnOf(name, context);
      const ref = refIsArn && arn ? arn : name;
      const attributes: Record<string, string> = arn ? { Arn: arn } : {};
      return { physicalId: ref, ref, attributes };
    },
    async update(_logicalId, _props, previous) {
      return previous;
    },
    async delete() {},
  };
}

const at =
  (service: string, resource: string) =>
  (name: string, { region, accountId }: ProvisionContext) =>
    `arn:aws:${service}:${region}:${accountId}:${resource}${name}`;

export const PROVISIONERS: Readonly<Record<string, ResourceProvisioner>> = {
  'AWS::SQS::Queue': queue,
  'AWS::DynamoDB::Table': table,
  'AWS::S3::Bucket': bucket,
  'AWS::S3::BucketPolicy': bucketPolicy,
  'AWS::IAM::Role': role,
  'AWS::IAM::Policy': policy,
  'AWS::Lambda::Function': lambdaFunction,
  'AWS::Lambda::EventSourceMapping': eventSourceMapping,
  'AWS::StepFunctions::StateMachine': stateMachine,
  'AWS::Scheduler::Schedule': schedule,
  'AWS::Logs::LogGroup': recordedOnly('LogGroupName', (name, c) => `${at('logs', 'log-group:')(name, c)}:*`),
  'AWS::Logs::MetricFilter': recordedOnly('FilterName', () => undefined),
  'AWS::CloudWatch::Alarm': recordedOnly('AlarmName', at('cloudwatch', 'alarm:')),
  'AWS::SNS::Topic': recordedOnly('TopicName', at('sns', ''), true),
  'AWS::Events::Rule': recordedOnly('Name', at('events', 'rule/')),
  'AWS::Lambda::Permission': recordedOnly(undefined, () => undefined),
  'AWS::ECS::Cluster': recordedOnly('ClusterName', at('ecs', 'cluster/')),
  'AWS::ECS::TaskDefinition': recordedOnly('Family', at('ecs', 'task-definition/')),
};

/** The function's zip from the deployment bucket (Code.S3Bucket/S3Key), read as the stack's admin. */
async function codeOf(props: Props, { clients }: ProvisionContext): Promise<Buffer> {
  const code = (props.Code ?? {}) as { S3Bucket?: string; S3Key?: string; ZipFile?: string };
  if (code.ZipFile !== undefined) {
    throw new ProvisionError(
      'Code.ZipFile (inline code) is not supported by the embedded stack; deploy a zip from S3',
    );
  }
  try {
    const object = await clients.s3.send(new GetObjectCommand({ Bucket: code.S3Bucket, Key: code.S3Key }));
    return Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  } catch (error) {
    throw new ProvisionError(
      `Error occurred while GetObject. S3 Error Code: ${(error as Error).name}. S3 Error Message: ${(error as Error).message} (s3://${code.S3Bucket}/${code.S3Key})`,
    );
  }
}

/** The URL of the queue an ARN names (`arn:aws:sqs:<region>:<account>:<name>`). */
async function queueUrlOf(arn: string, { clients }: ProvisionContext): Promise<{ url: string; arn: string }> {
  const name = arn.slice(arn.lastIndexOf(':') + 1);
  try {
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return { url: QueueUrl as string, arn };
  } catch (error) {
    throw new ProvisionError(
      `Invalid request provided: Error occurred while ReceiveMessage. SQS Error Code: ${(error as Error).name}. (${arn})`,
    );
  }
}

/** Ignore an error of this class (the resource is already gone), rethrow any other. */
function ignore(type: abstract new (...args: never[]) => Error) {
  return (error: unknown) => {
    if (!(error instanceof type)) throw error;
  };
}
