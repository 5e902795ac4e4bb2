import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DeleteBucketCommand, NoSuchBucket } from '@aws-sdk/client-s3';
import { DeleteQueueCommand, QueueDoesNotExist, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { provisionerFor } from '../resources.ts';
import { generatedName, type ResourceProvisioner } from './provisioning.ts';

/** Queues, tables and buckets (created as the embedded stack creates its own), bucket policies, roles and policies. */
export const queue: ResourceProvisioner = {
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

export const table: ResourceProvisioner = {
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

export const bucket: ResourceProvisioner = {
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

/** Ignore an error of this class (the resource is already gone), rethrow any other. */
function ignore(type: abstract new (...args: never[]) => Error) {
  return (error: unknown) => {
    if (!(error instanceof type)) throw error;
  };
}
