import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The SDK v3 clients lambdag uses. Built in one place with no endpoint option,
 * so the SDK itself reads `AWS_ENDPOINT_URL_SQS`, `..._S3`, `..._DYNAMODB`,
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
   * Sign as these instead of the SDK's default chain. Only the embedded stack passes them: its
   * in-process functions share one environment, yet each must sign as its own role.
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  // Path-style addressing keeps bucket names out of DNS on local endpoints; it also works on AWS.
  const forcePathStyle = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  // With an endpoint override, send to that endpoint even if a queue URL names another host
  // (emulators build URLs like http://sqs.us-east-1.localhost:PORT/... that need not resolve).
  const useQueueUrlAsEndpoint = !(process.env.AWS_ENDPOINT_URL_SQS ?? process.env.AWS_ENDPOINT_URL);
  const common = options.credentials ? { credentials: options.credentials } : {};
  const dynamodb = new DynamoDBClient(common);
  return {
    sqs: new SQSClient({ ...common, useQueueUrlAsEndpoint }),
    s3: new S3Client({ ...common, forcePathStyle }),
    dynamodb,
    ddb: DynamoDBDocumentClient.from(dynamodb, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    }),
    sfn: new SFNClient(common),
    ecs: new ECSClient(common),
  };
}
