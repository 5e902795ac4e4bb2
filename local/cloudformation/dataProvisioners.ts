import { randomBytes } from 'node:crypto';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DeleteTableCommand,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  DeleteBucketCommand,
  NoSuchBucket,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { ProvisionError } from './provisionError.ts';
import { generatedName, type Props, type ResourceProvisioner } from './provisioning.ts';

/** Queues (with their redrive), tables (keys, GSIs), buckets, bucket policies, roles and policies. */
export const queue: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.QueueName ?? generatedName(context, logicalId, 80));
    const { QueueUrl } = await context.clients.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: queueAttributes(props) }),
    );
    if (!QueueUrl) throw new ProvisionError(`CreateQueue ${name} returned no URL`);
    const described = await context.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const arn =
      described.Attributes?.QueueArn ?? `arn:aws:sqs:${context.region}:${context.accountId}:${name}`;
    return { physicalId: QueueUrl, ref: QueueUrl, attributes: { Arn: arn, QueueName: name, QueueUrl } };
  },
  async update(logicalId, props, previous, context) {
    if (props.QueueName !== undefined && props.QueueName !== previous.attributes.QueueName) {
      const replaced = await queue.create(logicalId, props, context);
      await queue.delete(previous, context);
      return replaced;
    }
    await context.clients.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: previous.ref, Attributes: queueAttributes(props) }),
    );
    return previous;
  },
  async delete(previous, { clients }) {
    await clients.sqs
      .send(new DeleteQueueCommand({ QueueUrl: previous.ref }))
      .catch(ignore(QueueDoesNotExist));
  },
};

export const table: ResourceProvisioner = {
  emulated: true,
  // An existing table is kept (the embedded stack restarted on its on-disk data).
  async create(logicalId, props, context) {
    const name = String(props.TableName ?? generatedName(context, logicalId, 255));
    try {
      await context.clients.dynamodb.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
          KeySchema: props.KeySchema as KeySchemaElement[],
          GlobalSecondaryIndexes: props.GlobalSecondaryIndexes as GlobalSecondaryIndex[] | undefined,
        }),
      );
      // dynalite has no UpdateTimeToLive: local/expiry.ts applies TimeToLiveSpecification itself.
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    const arn = `arn:aws:dynamodb:${context.region}:${context.accountId}:table/${name}`;
    return { physicalId: name, ref: name, attributes: { Arn: arn } };
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

export const bucket: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.BucketName ?? generatedName(context, logicalId, 63, true));
    try {
      await context.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
    }
    return {
      physicalId: name,
      ref: name,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${context.region}.amazonaws.com`,
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

export const bucketPolicy: ResourceProvisioner = {
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

export const role: ResourceProvisioner = {
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

export const policy: ResourceProvisioner = {
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

/** A queue's attributes as CreateQueue and SetQueueAttributes take them, the redrive policy as JSON. */
function queueAttributes(props: Props): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const key of ['VisibilityTimeout', 'MaximumMessageSize', 'MessageRetentionPeriod', 'DelaySeconds']) {
    if (props[key] !== undefined) attributes[key] = String(props[key]);
  }
  if (props.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(props.RedrivePolicy);
  return attributes;
}

/** Ignore an error of this class (the resource is already gone), rethrow any other. */
function ignore(type: abstract new (...args: never[]) => Error) {
  return (error: unknown) => {
    if (!(error instanceof type)) throw error;
  };
}
