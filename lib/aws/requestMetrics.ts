import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsClients } from './clients.ts';

/** Requests by scope (who made them), then `Service.Operation`. */
export type RequestCounts = Record<string, Record<string, number>>;

const MIDDLEWARE_NAME = 'lambdagRequestMetrics';
const DEFAULT_SCOPE = 'other';

interface MiddlewareContext {
  readonly clientName?: string;
  readonly commandName?: string;
}

/**
 * Counts the AWS API requests lambdag's clients make, by service and operation — the
 * unit AWS bills SQS, DynamoDB on-demand, S3 and Step Functions requests in. An SDK
 * middleware on every client; a request is counted once when sent (the SDK's own
 * retries of it are not counted again). `withScope` attributes requests to whoever
 * made them (the step worker, PollRun, ...), through async context.
 *
 * @example
 * ```ts
 * const metrics = new RequestMetrics();
 * metrics.install(createAwsClients());
 * await metrics.withScope('my-task', () => work());
 * console.log(metrics.snapshot()); // { 'my-task': { 'DynamoDB.UpdateItem': 3, 'SQS.SendMessageBatch': 1 } }
 * ```
 */
export class RequestMetrics {
  private readonly counts = new Map<string, Map<string, number>>();
  /** Items written by BatchWriteItem, by scope: DynamoDB bills each item, not the request. */
  private readonly batchWriteItems = new Map<string, number>();
  private readonly scope = new AsyncLocalStorage<string>();

  /** Add the counting middleware to each client (once per client). */
  install(aws: AwsClients): void {
    for (const client of [aws.sqs, aws.s3, aws.dynamodb, aws.sfn] as const) {
      const stack = client.middlewareStack as unknown as {
        add: (mw: unknown, options: { step: string; name: string; override?: boolean }) => void;
      };
      stack.add(
        (next: (args: unknown) => Promise<unknown>, context: MiddlewareContext) => async (args: unknown) => {
          const operation = operationName(context);
          this.count(operation);
          if (operation === 'DynamoDB.BatchWriteItem') this.countBatchWriteItems(itemsOf(args));
          return next(args);
        },
        { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
      );
    }
  }

  /** Run `fn` with its requests counted under `scope`. */
  withScope<T>(scope: string, fn: () => T): T {
    return this.scope.run(scope, fn);
  }

  count(operation: string, scope = this.scope.getStore() ?? DEFAULT_SCOPE): void {
    let byOperation = this.counts.get(scope);
    if (!byOperation) {
      byOperation = new Map();
      this.counts.set(scope, byOperation);
    }
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
  }

  countBatchWriteItems(items: number, scope = this.scope.getStore() ?? DEFAULT_SCOPE): void {
    this.batchWriteItems.set(scope, (this.batchWriteItems.get(scope) ?? 0) + items);
  }

  /** Items written by BatchWriteItem requests, in all or of one scope. */
  itemsBatchWritten(scope?: string): number {
    if (scope !== undefined) return this.batchWriteItems.get(scope) ?? 0;
    let sum = 0;
    for (const n of this.batchWriteItems.values()) sum += n;
    return sum;
  }

  snapshot(): RequestCounts {
    const out: RequestCounts = {};
    for (const [scope, byOperation] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      out[scope] = Object.fromEntries([...byOperation].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }

  /** Requests in all, or of one scope. */
  total(scope?: string): number {
    let sum = 0;
    for (const [name, byOperation] of this.counts) {
      if (scope !== undefined && name !== scope) continue;
      for (const n of byOperation.values()) sum += n;
    }
    return sum;
  }

  reset(): void {
    this.counts.clear();
    this.batchWriteItems.clear();
  }
}

/** The put and delete requests of a BatchWriteItem's input, over all its tables. */
function itemsOf(args: unknown): number {
  const requestItems = (args as { input?: { RequestItems?: Record<string, unknown[]> } }).input?.RequestItems;
  return Object.values(requestItems ?? {}).reduce((sum, requests) => sum + requests.length, 0);
}

/** `DynamoDBClient` + `UpdateItemCommand` -> `DynamoDB.UpdateItem`. */
export function operationName(context: MiddlewareContext): string {
  const service = (context.clientName ?? 'Unknown').replace(/Client$/, '').replace(/^SFN$/, 'StepFunctions');
  const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
  return `${service}.${operation}`;
}
