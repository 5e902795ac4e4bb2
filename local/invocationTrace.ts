import { AsyncLocalStorage } from 'node:async_hooks';
import type { SQSClient } from '@aws-sdk/client-sqs';

const TRACE_HEADER = 'X-Amzn-Trace-Id';

/**
 * The trace header of the Lambda invocation a piece of code runs in, and the SDK middleware
 * that sends it with each request, as the AWS SDK does inside Lambda (its recursion
 * detection middleware copies the invocation's `_X_AMZN_TRACE_ID` into X-Amzn-Trace-Id).
 * The in-process handlers run concurrently in one process, so the invocation is carried in
 * an AsyncLocalStorage, not in the environment. A request made outside any invocation (the
 * CLI, a local ECS task, a function Step Functions invoked) carries no header: whatever it
 * sends starts a new chain.
 */
export class InvocationTrace {
  private readonly storage = new AsyncLocalStorage<string>();

  /** Runs `body` as an invocation with this trace header. */
  run<T>(traceHeader: string, body: () => T): T {
    return this.storage.run(traceHeader, body);
  }

  /** The trace header of the invocation running now, if any. */
  current(): string | undefined {
    return this.storage.getStore();
  }

  /** Sends the current invocation's trace header with every request of this client. */
  install(sqs: SQSClient): void {
    sqs.middlewareStack.add(
      (next) => async (args) => {
        const traceHeader = this.current();
        const request = args.request as { headers?: Record<string, string> } | undefined;
        // As the SDK: a header the caller set is kept.
        if (traceHeader && request?.headers && !hasHeader(request.headers, TRACE_HEADER)) {
          request.headers[TRACE_HEADER] = traceHeader;
        }
        return next(args);
      },
      { step: 'build', name: 'lambdagInvocationTrace' },
    );
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((key) => key.toLowerCase() === lower);
}
