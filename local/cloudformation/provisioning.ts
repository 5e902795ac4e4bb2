import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DeployedFunctions } from './deployedFunctions.ts';
import type { DeployedIam } from './deployedIam.ts';
import type { DeployedSchedules } from './deployedSchedules.ts';
import type { ResourceValues } from './template.ts';

/** The emulators' clients, as the stack's admin. */
export interface ProvisionClients {
  readonly sqs: SQSClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
}

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

export type Props = Record<string, unknown>;

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
