import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { type AwsClientOptions, clientConfig } from '../lib/aws/clients.ts';
import { ConfigError } from '../lib/errors.ts';

/** The stack outputs serverless.yml declares, and the variable each one fills. */
const OUTPUT_ENV: Readonly<Record<string, string>> = {
  RunStateMachineArn: 'LAMBDAG_STATE_MACHINE_ARN',
  StepsQueueUrl: 'LAMBDAG_QUEUE_URL_DEFAULT',
  StepsHighQueueUrl: 'LAMBDAG_QUEUE_URL_HIGH',
  ArtifactsBucketName: 'LAMBDAG_BUCKET',
  RunsTableName: 'LAMBDAG_RUNS_TABLE',
  IdempotencyTableName: 'LAMBDAG_IDEMPOTENCY_TABLE',
};

/** Every variable a deployed target needs; when all are set, no AWS call is made. */
export const DEPLOYED_ENV = Object.values(OUTPUT_ENV);

/** Outputs a stack deployed before they existed lacks: used when present. */
const OPTIONAL_OUTPUT_ENV: Readonly<Record<string, string>> = {
  RetentionDays: 'LAMBDAG_RETENTION_DAYS',
  RunPartitions: 'LAMBDAG_RUN_PARTITIONS',
};

/**
 * The LAMBDAG_* variables of a deployed stage, read from its CloudFormation stack
 * (`<service>-<stage>`, as `sls deploy` names it). Works against AWS and LocalStack alike.
 */
export async function stackEnvironment(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<Record<string, string>> {
  let outputs: Output[];
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    throw new ConfigError(
      'stack',
      `cannot read the outputs of CloudFormation stack '${stackName}' (${(error as Error).message}); deploy it first (docs/deploy.md) or export ${DEPLOYED_ENV.join(', ')}`,
    );
  }
  const env: Record<string, string> = {};
  for (const { OutputKey, OutputValue } of outputs) {
    const name = OutputKey ? (OUTPUT_ENV[OutputKey] ?? OPTIONAL_OUTPUT_ENV[OutputKey]) : undefined;
    if (name && OutputValue) env[name] = OutputValue;
  }
  const missing = Object.entries(OUTPUT_ENV).filter(([, name]) => !env[name]);
  if (missing.length) {
    throw new ConfigError(
      'stack',
      `stack '${stackName}' lacks the outputs ${missing.map(([key]) => key).join(', ')}`,
    );
  }
  return env;
}

/** The CloudFormation client, configured like every other client: the target's endpoint and region, else the environment's. */
export function createCloudFormationClient(options: AwsClientOptions = {}): CloudFormationClient {
  return new CloudFormationClient(clientConfig('cloudformation', options));
}
