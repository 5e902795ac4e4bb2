import type { Context } from 'aws-lambda';
import { LocalStackError } from '../lib/errors.ts';

export interface LambdaFunctionInfo {
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
}

/** A function as the embedded stack invokes it in-process: its handler, with a Lambda context. */
export type TaskFunction = (event: unknown, context: Context) => Promise<unknown>;

export interface LocalTaskFunction extends LambdaFunctionInfo {
  readonly handler: TaskFunction;
}

/** The Lambda context an in-process invocation gets: its deadline is the function's configured timeout. */
export function lambdaContext(fn: LambdaFunctionInfo, requestId: string): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  const unsupported = () => {
    throw new LocalStackError('callback-style completion is not supported; return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.functionArn,
    memoryLimitInMB: String(fn.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
