import type { RequestCounts } from '../lib/requestMetrics.ts';

/**
 * US East (N. Virginia) list prices, as published on the AWS pricing pages in November
 * 2026 (aws.amazon.com/{lambda,sqs,dynamodb,s3,step-functions}/pricing), and Temporal
 * Cloud's list price per action (temporal.io/pricing). Free tiers are ignored.
 */
export const PRICES = {
  date: '2026-11',
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000166667,
  sqsPerMillionRequests: 0.4,
  dynamodbPerMillionWriteUnits: 1.25,
  dynamodbPerMillionReadUnits: 0.25,
  s3PerThousandPuts: 0.005,
  s3PerThousandGets: 0.0004,
  stepFunctionsPerMillionTransitions: 25,
  temporalCloudPerMillionActions: 25,
} as const;

/** What one step costs to run beyond its requests: Lambda memory and duration. */
export interface LambdaAssumptions {
  readonly memoryMb: number;
  /** Billed duration per step (ms), lambdag's own work for a no-op step. */
  readonly msPerStep: number;
  /** Steps per Lambda invocation (SQS batch). */
  readonly stepsPerInvocation: number;
}

export const DEFAULT_LAMBDA: LambdaAssumptions = { memoryMb: 1024, msPerStep: 40, stepsPerInvocation: 1 };

export interface CostPerMillionSteps {
  readonly lambda: number;
  readonly sqs: number;
  readonly dynamodb: number;
  readonly s3: number;
  readonly total: number;
  readonly stepFunctionsStandardEquivalent: number;
  readonly temporalCloudEquivalent: number;
  readonly assumptions: string[];
}

const DDB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);
const DDB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

/**
 * Dollars per million steps from requests per step by `Service.Operation`. Each DynamoDB
 * write, and each item of a BatchWriteItem, is counted as one write unit and each read as
 * one read unit (items under 1 KB /
 * 4 KB; BatchGetItem counts one unit per request although it reads several items, and
 * strongly consistent reads cost 1 unit, so the DynamoDB figure is a lower bound for steps
 * with several upstream). Each SQS request is one 64 KB chunk. The event source's own
 * receive and delete are added (2 SQS requests per step).
 */
export function costPerMillionSteps(
  requestsPerStep: Record<string, number>,
  /** Items the BatchWriteItem requests wrote, per step (each is a write unit). */
  batchWriteItemsPerStep: number,
  lambda: LambdaAssumptions = DEFAULT_LAMBDA,
): CostPerMillionSteps {
  // ReceiveMessage + DeleteMessageBatch by the event source, once per invocation's batch.
  let sqs = 2 / lambda.stepsPerInvocation;
  let ddbWrites = 0;
  let ddbReads = 0;
  let s3Puts = 0;
  let s3Gets = 0;
  for (const [name, count] of Object.entries(requestsPerStep)) {
    const [service, operation = ''] = name.split('.');
    if (service === 'SQS') sqs += count;
    // Billed by the item (counted by the request middleware), not by the request.
    else if (service === 'DynamoDB' && operation === 'BatchWriteItem') ddbWrites += batchWriteItemsPerStep;
    else if (service === 'DynamoDB' && DDB_WRITES.has(operation)) ddbWrites += count;
    else if (service === 'DynamoDB' && DDB_READS.has(operation)) ddbReads += count;
    else if (service === 'S3' && operation === 'PutObject') s3Puts += count;
    else if (service === 'S3') s3Gets += count;
  }
  const million = 1_000_000;
  const invocations = million / lambda.stepsPerInvocation;
  const gbSeconds = (million * lambda.msPerStep * lambda.memoryMb) / 1024 / 1000;
  const cost = {
    lambda: (invocations / million) * PRICES.lambdaPerMillionRequests + gbSeconds * PRICES.lambdaPerGbSecond,
    sqs: sqs * PRICES.sqsPerMillionRequests,
    dynamodb: ddbWrites * PRICES.dynamodbPerMillionWriteUnits + ddbReads * PRICES.dynamodbPerMillionReadUnits,
    s3:
      ((s3Puts * million) / 1000) * PRICES.s3PerThousandPuts +
      ((s3Gets * million) / 1000) * PRICES.s3PerThousandGets,
  };
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    lambda: round(cost.lambda),
    sqs: round(cost.sqs),
    dynamodb: round(cost.dynamodb),
    s3: round(cost.s3),
    total: round(cost.lambda + cost.sqs + cost.dynamodb + cost.s3),
    // A step as a Task state: at least entering and leaving it (2 transitions), no retries.
    stepFunctionsStandardEquivalent: round(2 * PRICES.stepFunctionsPerMillionTransitions),
    // A step as a Temporal activity: schedule + complete (~2 actions at list price).
    temporalCloudEquivalent: round(2 * PRICES.temporalCloudPerMillionActions),
    assumptions: [
      `Lambda ${lambda.memoryMb} MB, ${lambda.msPerStep} ms billed per step, ${lambda.stepsPerInvocation} step(s) per invocation`,
      `one DynamoDB unit per request and per item a BatchWriteItem writes (${Math.round(batchWriteItemsPerStep * 100) / 100} a step; small items), one SQS chunk per request, event source receive + delete = 2 SQS requests per invocation`,
      'Step Functions: 2 transitions per step as a Task state; Temporal Cloud: 2 actions per activity',
      `list prices ${PRICES.date}, us-east-1, no free tier`,
    ],
  };
}

/** Requests per step of one scope, from a snapshot and a step count. */
export function perStep(counts: RequestCounts, scope: string, steps: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [operation, n] of Object.entries(counts[scope] ?? {}))
    out[operation] = Math.round((n / steps) * 100) / 100;
  return out;
}
