import { randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { ProvisionError } from './provisionError.ts';
import {
  generatedName,
  type Props,
  type ProvisionContext,
  type ResourceProvisioner,
} from './provisioning.ts';

/** Functions (their code from the host: the zips, or the sources), event source mappings, state machines, schedules, event rules and Lambda permissions. */
export const lambdaFunction: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.FunctionName ?? generatedName(context, logicalId, 64));
    const version = await context.functions.deployFunction(name, props, () => codeOf(props, context));
    return { physicalId: name, ref: name, attributes: { Arn: version.functionArn } };
  },
  async update(logicalId, props, previous, context) {
    if (props.FunctionName !== undefined && props.FunctionName !== previous.ref) {
      const replaced = await lambdaFunction.create(logicalId, props, context);
      await lambdaFunction.delete(previous, context);
      return replaced;
    }
    await context.functions.deployFunction(previous.ref, props, () => codeOf(props, context));
    return previous;
  },
  async delete(previous, { functions }) {
    await functions.deleteFunction(previous.ref);
  },
};

export const eventSourceMapping: ResourceProvisioner = {
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

export const stateMachine: ResourceProvisioner = {
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

export const schedule: ResourceProvisioner = {
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

export const rule: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const name = String(props.Name ?? generatedName(context, logicalId, 64));
    const arn = `arn:aws:events:${context.region}:${context.accountId}:rule/${name}`;
    context.functions.putRule(name, arn, props);
    return { physicalId: name, ref: name, attributes: { Arn: arn } };
  },
  async update(logicalId, props, previous, context) {
    if (props.Name !== undefined && props.Name !== previous.ref) {
      const replaced = await rule.create(logicalId, props, context);
      await rule.delete(previous, context);
      return replaced;
    }
    context.functions.putRule(previous.ref, previous.attributes.Arn as string, props);
    return previous;
  },
  async delete(previous, { functions }) {
    functions.deleteRule(previous.attributes.Arn as string);
  },
};

export const permission: ResourceProvisioner = {
  emulated: true,
  async create(logicalId, props, context) {
    const id = generatedName(context, logicalId);
    context.functions.addPermission(id, props);
    return { physicalId: id, ref: id, attributes: {} };
  },
  async delete(previous, { functions }) {
    functions.removePermission(previous.ref);
  },
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
