import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Log } from '../../lib/log.ts';
import { listenOnLoopback } from '../http.ts';
import type { FunctionVersion, LocalLambda } from './runtime.ts';

/**
 * The read side of Lambda's REST API for deployed functions: GetFunction (Serverless's
 * deploy compares its LastModified, `aws lambda get-function` shows the code's hash) and
 * ListFunctions. Functions are created and changed through CloudFormation only.
 */
export async function startLambdaApi(
  lambda: LocalLambda,
  log: Log,
): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((request, response) => {
    try {
      handle(lambda, request, response);
    } catch (error) {
      log.error('Lambda endpoint failed', { error });
      send(response, 500, { Type: 'Service', message: String(error) }, 'ServiceException');
    }
  });
  return { server, endpoint: await listenOnLoopback(server) };
}

function handle(lambda: LocalLambda, request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  const { status, body, errorType } = answer(lambda, request);
  send(response, status, body, errorType);
}

function answer(
  lambda: LocalLambda,
  request: IncomingMessage,
): { status: number; body: unknown; errorType?: string } {
  const path = new URL(request.url ?? '/', 'http://lambda').pathname;
  const get = /^\/2015-03-31\/functions\/([^/]+)\/?$/.exec(path);
  if (request.method === 'GET' && get) {
    const version = lambda.get(decodeURIComponent(get[1] as string));
    if (!version) {
      const message = `Function not found: ${get[1]}`;
      return { status: 404, body: { Type: 'User', message }, errorType: 'ResourceNotFoundException' };
    }
    const Code = { RepositoryType: 'S3', Location: `file://${version.codeDir}` };
    return { status: 200, body: { Configuration: configurationOf(version), Code } };
  }
  if (request.method === 'GET' && /^\/2015-03-31\/functions\/?$/.test(path)) {
    return { status: 200, body: { Functions: lambda.list().map(configurationOf) } };
  }
  const message = `${request.method} ${path} is not served by the embedded stack's Lambda API`;
  return { status: 400, body: { Type: 'User', message }, errorType: 'InvalidRequestContentException' };
}

function configurationOf(version: FunctionVersion): Record<string, unknown> {
  return {
    FunctionName: version.functionName,
    FunctionArn: version.functionArn,
    Runtime: version.runtime,
    Role: version.role,
    Handler: version.handler,
    CodeSize: version.codeSize,
    CodeSha256: version.codeSha256,
    Timeout: version.timeoutSeconds,
    MemorySize: version.memorySize,
    LastModified: version.lastModified.toISOString().replace('Z', '+0000'),
    Version: '$LATEST',
    Environment: { Variables: version.environment },
    State: 'Active',
    PackageType: 'Zip',
  };
}

function send(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  response.end(text);
}
