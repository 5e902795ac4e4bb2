import type { AccessRequest } from './policy.ts';

/** What the gateway knows of one HTTP request to an AWS API. */
export interface ApiRequest {
  /** The SigV4 scope's service: sqs, s3, dynamodb, states, ecs. */
  readonly service: string;
  readonly region: string;
  readonly accountId: string;
  readonly method: string;
  /** The path, decoded, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, for the JSON protocols and the small S3 requests that need it (DeleteObjects). */
  readonly body?: Buffer;
}

/** Answers what RunTask would pass: the roles named by a task definition. */
export type TaskDefinitionRoles = (taskDefinitionArn: string) => readonly string[];

export interface RequestContext {
  readonly taskDefinitionRoles: TaskDefinitionRoles;
}

/** The IAM actions and resources one request is authorized as, AWS's way (from the Service Authorization Reference). */
export interface AuthorizedOperation {
  /** `Service.Operation`, for messages and the usage report. */
  readonly operation: string;
  readonly checks: readonly AccessRequest[];
}

/** Body-less S3 requests need no buffering; JSON APIs always carry their operation in the body's target. */
export function needsBody(service: string, method: string, query: URLSearchParams): boolean {
  if (service !== 's3') return true;
  return method === 'POST' && query.has('delete');
}

const BATCH_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/**
 * The checks a request needs, or a string saying why it cannot be read (the gateway
 * refuses it: an unknown request must not pass unchecked).
 */
export function authorizationOf(request: ApiRequest, context: RequestContext): AuthorizedOperation | string {
  switch (request.service) {
    case 'sqs':
      return sqs(request);
    case 'dynamodb':
      return dynamodb(request);
    case 's3':
      return s3(request);
    case 'states':
      return states(request);
    case 'ecs':
      return ecs(request, context);
    default:
      return `the embedded stack has no ${request.service} API`;
  }
}

function jsonOperation(request: ApiRequest): { operation: string; body: Record<string, unknown> } | string {
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.slice(target.indexOf('.') + 1);
  if (!target || !operation) return 'the request has no X-Amz-Target';
  try {
    const text = request.body?.toString('utf8') ?? '';
    return { operation, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return `the ${operation} request body is not JSON`;
  }
}

function sqs(request: ApiRequest): AuthorizedOperation | string {
  const parsed = jsonOperation(request);
  if (typeof parsed === 'string') return parsed;
  const { operation, body } = parsed;
  const action = `sqs:${BATCH_ACTIONS[operation] ?? operation}`;
  const queueArn = (name: string) => `arn:aws:sqs:${request.region}:${request.accountId}:${name}`;
  let resource = '*';
  if (typeof body.QueueUrl === 'string') {
    const name = new URL(body.QueueUrl, 'http://queue').pathname.split('/').filter(Boolean).at(-1);
    if (!name) return `QueueUrl ${body.QueueUrl} names no queue`;
    resource = queueArn(name);
  } else if (typeof body.QueueName === 'string') {
    resource = queueArn(body.QueueName);
  }
  return { operation: `SQS.${operation}`, checks: [{ action, resource }] };
}

function dynamodb(request: ApiRequest): AuthorizedOperation | string {
  const parsed = jsonOperation(request);
  if (typeof parsed === 'string') return parsed;
  const { operation, body } = parsed;
  const table = (name: string) => `arn:aws:dynamodb:${request.region}:${request.accountId}:table/${name}`;
  const action = `dynamodb:${operation}`;
  const checks: AccessRequest[] = [];
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    for (const name of Object.keys((body.RequestItems ?? {}) as object))
      checks.push({ action, resource: table(name) });
  } else if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    // Authorized per item, as the item's own action on its table.
    for (const item of (body.TransactItems ?? []) as Record<string, { TableName?: string }>[]) {
      for (const [kind, spec] of Object.entries(item)) {
        const itemAction = kind === 'ConditionCheck' ? 'ConditionCheckItem' : `${kind}Item`;
        checks.push({ action: `dynamodb:${itemAction}`, resource: table(String(spec.TableName)) });
      }
    }
  } else if (typeof body.TableName === 'string') {
    // A query or scan of an index is authorized on the index's own ARN.
    const index = typeof body.IndexName === 'string' ? `/index/${body.IndexName}` : '';
    checks.push({ action, resource: `${table(body.TableName)}${index}` });
  } else {
    checks.push({ action, resource: '*' });
  }
  return { operation: `DynamoDB.${operation}`, checks };
}

function s3(request: ApiRequest): AuthorizedOperation | string {
  const [bucket = '', ...rest] = request.path.replace(/^\//, '').split('/');
  const key = rest.join('/');
  const q = request.query;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const object = (k: string) => `${bucketArn}/${k}`;
  const one = (
    operation: string,
    action: string,
    resource: string,
    context: Record<string, string> = {},
  ): AuthorizedOperation => ({
    operation: `S3.${operation}`,
    checks: [{ action: `s3:${action}`, resource, context: { 'aws:SecureTransport': 'true', ...context } }],
  });
  if (!bucket)
    return request.method === 'GET' ? one('ListBuckets', 'ListAllMyBuckets', '*') : 'no bucket in the path';
  if (!key) {
    switch (request.method) {
      case 'GET':
        if (q.has('uploads')) return one('ListMultipartUploads', 'ListBucketMultipartUploads', bucketArn);
        if (q.has('location')) return one('GetBucketLocation', 'GetBucketLocation', bucketArn);
        // s3:prefix: a policy can allow listing one prefix only (the CLI user's step logs).
        return one(q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects', 'ListBucket', bucketArn, {
          's3:prefix': q.get('prefix') ?? '',
        });
      case 'HEAD':
        return one('HeadBucket', 'ListBucket', bucketArn);
      case 'PUT':
        return one('CreateBucket', 'CreateBucket', bucketArn);
      case 'DELETE':
        return one('DeleteBucket', 'DeleteBucket', bucketArn);
      case 'POST': {
        if (!q.has('delete')) return `POST ${request.path} is not an S3 request the embedded stack knows`;
        const keys = [...(request.body?.toString('utf8') ?? '').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) =>
          unescapeXml(m[1] as string),
        );
        return {
          operation: 'S3.DeleteObjects',
          checks: keys.map((k) => ({
            action: 's3:DeleteObject',
            resource: object(k),
            context: { 'aws:SecureTransport': 'true' },
          })),
        };
      }
    }
    return `${request.method} ${request.path} is not an S3 request the embedded stack knows`;
  }
  switch (request.method) {
    case 'GET':
      if (q.has('uploadId')) return one('ListParts', 'ListMultipartUploadParts', object(key));
      return one('GetObject', 'GetObject', object(key));
    case 'HEAD':
      return one('HeadObject', 'GetObject', object(key));
    case 'PUT': {
      const source = request.headers['x-amz-copy-source'];
      if (typeof source === 'string') {
        const from = decodeURIComponent(source.replace(/^\//, '').split('?')[0] as string);
        return {
          operation: 'S3.CopyObject',
          checks: [
            { action: 's3:PutObject', resource: object(key), context: { 'aws:SecureTransport': 'true' } },
            {
              action: 's3:GetObject',
              resource: `arn:aws:s3:::${from}`,
              context: { 'aws:SecureTransport': 'true' },
            },
          ],
        };
      }
      return one(q.has('uploadId') ? 'UploadPart' : 'PutObject', 'PutObject', object(key));
    }
    case 'POST':
      if (q.has('uploads')) return one('CreateMultipartUpload', 'PutObject', object(key));
      if (q.has('uploadId')) return one('CompleteMultipartUpload', 'PutObject', object(key));
      return `POST ${request.path} is not an S3 request the embedded stack knows`;
    case 'DELETE':
      if (q.has('uploadId')) return one('AbortMultipartUpload', 'AbortMultipartUpload', object(key));
      return one('DeleteObject', 'DeleteObject', object(key));
  }
  return `${request.method} ${request.path} is not an S3 request the embedded stack knows`;
}

function states(request: ApiRequest): AuthorizedOperation | string {
  const parsed = jsonOperation(request);
  if (typeof parsed === 'string') return parsed;
  const { operation, body } = parsed;
  const resource =
    typeof body.stateMachineArn === 'string'
      ? body.stateMachineArn
      : typeof body.executionArn === 'string'
        ? body.executionArn
        : '*';
  return { operation: `SFN.${operation}`, checks: [{ action: `states:${operation}`, resource }] };
}

function ecs(request: ApiRequest, context: RequestContext): AuthorizedOperation | string {
  const parsed = jsonOperation(request);
  if (typeof parsed === 'string') return parsed;
  const { operation, body } = parsed;
  const prefix = `arn:aws:ecs:${request.region}:${request.accountId}`;
  const clusterName = String(body.cluster ?? 'default');
  const clusterArn = clusterName.startsWith('arn:') ? clusterName : `${prefix}:cluster/${clusterName}`;
  const cluster = { 'ecs:cluster': clusterArn };
  const taskArn = (task: string) =>
    task.startsWith('arn:') ? task : `${prefix}:task/${clusterArn.split('/').at(-1)}/${task}`;
  const action = `ecs:${operation}`;
  switch (operation) {
    case 'RunTask': {
      const definition = String(body.taskDefinition ?? '');
      // A family alone runs its latest revision; the embedded stack registers revision 1.
      const definitionArn = definition.startsWith('arn:')
        ? definition
        : `${prefix}:task-definition/${definition.includes(':') ? definition : `${definition}:1`}`;
      return {
        operation: 'ECS.RunTask',
        checks: [
          { action, resource: definitionArn, context: cluster },
          // RunTask passes the task definition's roles to ECS.
          ...context.taskDefinitionRoles(definitionArn).map((role) => ({
            action: 'iam:PassRole',
            resource: role,
            context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
          })),
        ],
      };
    }
    case 'StopTask':
      return {
        operation: 'ECS.StopTask',
        checks: [{ action, resource: taskArn(String(body.task ?? '')), context: cluster }],
      };
    case 'DescribeTasks':
      return {
        operation: 'ECS.DescribeTasks',
        checks: ((body.tasks ?? []) as string[]).map((task) => ({
          action,
          resource: taskArn(task),
          context: cluster,
        })),
      };
    case 'ListTasks':
      return { operation: 'ECS.ListTasks', checks: [{ action, resource: '*', context: cluster }] };
    default:
      return { operation: `ECS.${operation}`, checks: [{ action, resource: '*' }] };
  }
}

function unescapeXml(text: string): string {
  return text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');
}
