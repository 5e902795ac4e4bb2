import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsEndpoints, type AwsService, readAwsEndpoints } from './config.ts';

/**
 * The SDK v3 clients lambdag uses. Built in one place; by default with no endpoint or
 * region option, so the SDK itself reads `AWS_ENDPOINT_URL_SQS`, `..._S3`, `..._DYNAMODB`,
 * `..._SFN`, `..._ECS` and the region from the environment: the same code runs on AWS,
 * LocalStack and the embedded stack. lib/ receives these; it never builds them.
 */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly ddb: DynamoDBDocumentClient;
  readonly sfn: SFNClient;
  readonly ecs: ECSClient;
}

export interface AwsClientOptions {
  /**
   * Sign as these instead of the SDK's default chain. The embedded stack passes them (its
   * in-process functions share one environment, yet each must sign as its own role), and
   * the CLI for a running embedded stack (its admin key).
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Instead of the environment's AWS_REGION. */
  readonly region?: string;
  /**
   * Instead of the environment's endpoint overrides (the CLI's `--endpoint`, a running
   * embedded stack's gateway): each given one is passed to its client.
   */
  readonly endpoints?: AwsEndpoints;
}

/**
 * The options every client of `service` gets: credentials, region and endpoint when given.
 * Used for the CLI's CloudFormation client too.
 */
export function clientConfig(
  service: AwsService,
  options: AwsClientOptions,
): { credentials?: AwsClientOptions['credentials']; region?: string; endpoint?: string } {
  const endpoint = options.endpoints?.[service];
  return {
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.region ? { region: options.region } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const endpoints = options.endpoints ?? readAwsEndpoints();
  // Path-style addressing keeps bucket names out of DNS on local endpoints; it also works on AWS.
  const forcePathStyle = Boolean(endpoints.s3);
  // With an endpoint override, send to that endpoint even if a queue URL names another host
  // (emulators build URLs like http://sqs.us-east-1.localhost:PORT/... that need not resolve).
  const useQueueUrlAsEndpoint = !endpoints.sqs;
  const dynamodb = new DynamoDBClient(clientConfig('dynamodb', options));
  return {
    sqs: new SQSClient({ ...clientConfig('sqs', options), useQueueUrlAsEndpoint }),
    s3: new S3Client({ ...clientConfig('s3', options), forcePathStyle }),
    dynamodb,
    ddb: DynamoDBDocumentClient.from(dynamodb, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    }),
    sfn: new SFNClient(clientConfig('sfn', options)),
    ecs: new ECSClient(clientConfig('ecs', options)),
  };
}
