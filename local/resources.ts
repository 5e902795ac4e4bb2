import {
  type AttributeDefinition,
  CreateTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LocalStackError } from '../lib/errors.ts';
import type { CfnResource } from './serverlessModel.ts';

/** What `Ref` and `Fn::GetAtt` give for a provisioned resource. */
export interface ProvisionedResource {
  readonly type: string;
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export type ResourceMap = Map<string, ProvisionedResource>;

export interface ProvisionClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

export interface ProvisionOptions {
  readonly region: string;
  readonly accountId: string;
  /** Replaces every queue's VisibilityTimeout (tests use a short one to see redeliveries quickly). */
  readonly visibilityTimeoutSeconds?: number;
}

/** Resource types the emulators have no counterpart for; they are skipped on purpose. */
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Topic',
  'AWS::CloudWatch::Alarm',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  // Read by the local event bus (local/eventBridge.ts), not provisioned.
  'AWS::Events::Rule',
  'AWS::Lambda::Permission',
]);

/**
 * Create the queues, tables and buckets that serverless.yml declares. Queues
 * without a redrive policy (the DLQs) are created first so the others can
 * point at them. Existing tables and buckets (an on-disk stack restarted) are kept.
 */
export async function provisionResources(
  resources: Readonly<Record<string, CfnResource>>,
  clients: ProvisionClients,
  options: ProvisionOptions,
): Promise<ResourceMap> {
  const provisioned: ResourceMap = new Map(pseudoParameters(options));
  const entries = Object.entries(resources);
  const unknown = entries.filter(
    ([, r]) => !NOT_EMULATED.has(r.Type) && !PROVISIONERS[r.Type as keyof typeof PROVISIONERS],
  );
  if (unknown.length) {
    throw new LocalStackError(
      `serverless.yml declares resources the embedded stack cannot create: ${unknown.map(([id, r]) => `${id} (${r.Type})`).join(', ')}`,
    );
  }
  const queues = entries.filter(([, r]) => r.Type === 'AWS::SQS::Queue');
  const ordered = [
    ...queues.filter(([, r]) => !r.Properties?.RedrivePolicy),
    ...queues.filter(([, r]) => r.Properties?.RedrivePolicy),
    ...entries.filter(([, r]) => r.Type !== 'AWS::SQS::Queue'),
  ];
  for (const [logicalId, resource] of ordered) {
    const provision = PROVISIONERS[resource.Type as keyof typeof PROVISIONERS];
    if (!provision) continue;
    const properties = resolveIntrinsics(
      resource.Properties ?? {},
      provisioned,
      `${logicalId}.Properties`,
    ) as Props;
    provisioned.set(logicalId, await provision(logicalId, properties, clients, options));
  }
  return provisioned;
}

type Props = Record<string, unknown>;

/**
 * How the embedded stack creates a queue, table or bucket from its resolved properties
 * (undefined for other types); local/cloudformation/ creates deployed stacks' with it too.
 */
export function provisionerFor(type: string): Provisioner | undefined {
  return PROVISIONERS[type as keyof typeof PROVISIONERS];
}

export type Provisioner = (
  logicalId: string,
  properties: Props,
  clients: ProvisionClients,
  options: ProvisionOptions,
) => Promise<ProvisionedResource>;

const PROVISIONERS: Record<'AWS::SQS::Queue' | 'AWS::DynamoDB::Table' | 'AWS::S3::Bucket', Provisioner> = {
  'AWS::SQS::Queue': async (logicalId, properties, { sqs }, options) => {
    const name = String(properties.QueueName ?? logicalId);
    const attributes: Record<string, string> = {};
    for (const key of ['VisibilityTimeout', 'MaximumMessageSize', 'MessageRetentionPeriod', 'DelaySeconds']) {
      if (properties[key] !== undefined) attributes[key] = String(properties[key]);
    }
    if (options.visibilityTimeoutSeconds !== undefined) {
      attributes.VisibilityTimeout = String(options.visibilityTimeoutSeconds);
    }
    if (properties.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(properties.RedrivePolicy);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!QueueUrl) throw new LocalStackError(`CreateQueue ${name} returned no URL`);
    const described = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const arn =
      described.Attributes?.QueueArn ?? `arn:aws:sqs:${options.region}:${options.accountId}:${name}`;
    return { type: 'AWS::SQS::Queue', ref: QueueUrl, attributes: { Arn: arn, QueueName: name, QueueUrl } };
  },

  'AWS::DynamoDB::Table': async (logicalId, properties, { dynamodb }, options) => {
    const name = String(properties.TableName ?? logicalId);
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
          KeySchema: properties.KeySchema as KeySchemaElement[],
          GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined,
        }),
      );
      // dynalite has no UpdateTimeToLive: local/expiry.ts applies TimeToLiveSpecification itself.
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    const arn = `arn:aws:dynamodb:${options.region}:${options.accountId}:table/${name}`;
    return { type: 'AWS::DynamoDB::Table', ref: name, attributes: { Arn: arn } };
  },

  'AWS::S3::Bucket': async (logicalId, properties, { s3 }) => {
    const name = String(properties.BucketName ?? logicalId.toLowerCase());
    try {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
    }
    return { type: 'AWS::S3::Bucket', ref: name, attributes: { Arn: `arn:aws:s3:::${name}` } };
  },
};

/** Resolve Ref, Fn::GetAtt and Fn::Join against provisioned resources (and the pseudo parameters). */
export function resolveIntrinsics(value: unknown, resources: ResourceMap, where: string): unknown {
  if (Array.isArray(value))
    return value.map((item, i) => resolveIntrinsics(item, resources, `${where}[${i}]`));
  if (!value || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    if ('Ref' in object) return refOf(String(object.Ref), resources, where);
    if ('Fn::GetAtt' in object) {
      const [id, attribute] = object['Fn::GetAtt'] as [string, string];
      const resource = resourceOf(id, resources, where);
      const found = resource.attributes[attribute];
      if (found === undefined)
        throw new LocalStackError(`${where}: ${id} has no attribute ${attribute} locally`);
      return found;
    }
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts
        .map((part, i) => String(resolveIntrinsics(part, resources, `${where}.Fn::Join[${i}]`)))
        .join(separator);
    }
  }
  return Object.fromEntries(
    keys.map((key) => [key, resolveIntrinsics(object[key], resources, `${where}.${key}`)]),
  );
}

/**
 * The pseudo parameters `Ref` resolves (`AWS::Region`, ...), kept in the resource map so every
 * resolution sees the stack's own region and account.
 */
function pseudoParameters(options: ProvisionOptions): [string, ProvisionedResource][] {
  const values = {
    'AWS::Region': options.region,
    'AWS::AccountId': options.accountId,
    'AWS::Partition': 'aws',
  };
  return Object.entries(values).map(([id, ref]) => [id, { type: PSEUDO_PARAMETER, ref, attributes: {} }]);
}

const PSEUDO_PARAMETER = 'AWS::PseudoParameter';

function refOf(id: string, resources: ResourceMap, where: string): string {
  return resourceOf(id, resources, where).ref;
}

function resourceOf(id: string, resources: ResourceMap, where: string): ProvisionedResource {
  const resource = resources.get(id);
  if (!resource)
    throw new LocalStackError(`${where}: refers to ${id}, which the embedded stack did not create`);
  return resource;
}
