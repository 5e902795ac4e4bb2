import { bucket, bucketPolicy, policy, queue, role, table } from './dataProvisioners.ts';
import { generatedName, type ProvisionContext, type ResourceProvisioner } from './provisioning.ts';
import {
  eventSourceMapping,
  lambdaFunction,
  permission,
  rule,
  schedule,
  stateMachine,
} from './runtimeProvisioners.ts';

export type { ProvisionContext, ProvisionedValues, ResourceProvisioner } from './provisioning.ts';

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
  'AWS::Events::Rule': rule,
  'AWS::Lambda::Permission': permission,
  'AWS::ECS::Cluster': recordedOnly('ClusterName', at('ecs', 'cluster/')),
  'AWS::ECS::TaskDefinition': recordedOnly('Family', at('ecs', 'task-definition/')),
};
