import type { RequestCounts } from '../lib/aws/requestMetrics.ts';

/**
 * US East (N. Virginia) list prices as of 2026-12, first tier, no free tier. Sources:
 * - Lambda: aws.amazon.com/lambda/pricing: $0.20 per million requests; duration per GB-second
 *   $0.0000166667 on x86_64 and $0.0000133334 on arm64 (first 6 / 7.5 billion GB-s a month).
 * - SQS standard: aws.amazon.com/sqs/pricing: $0.40 per million requests, each 64 KiB chunk
 *   of a payload a request.
 * - DynamoDB on-demand: aws.amazon.com/dynamodb/pricing: $0.625 per million write and $0.125
 *   per million read request units (halved on 2024-11-01).
 * - S3 Standard: aws.amazon.com/s3/pricing: $0.005 per 1,000 PUT and $0.0004 per 1,000 GET.
 * - Step Functions standard: aws.amazon.com/step-functions/pricing: $0.025 per 1,000 state
 *   transitions.
 * - Fargate (Linux): aws.amazon.com/fargate/pricing: per vCPU-hour $0.04048 on x86_64 and
 *   $0.03238 on ARM64, per GB-hour $0.004445 and $0.00356; per second, one-minute minimum.
 * - Temporal Cloud: temporal.io/pricing, about $25 per million actions (taken 2026-11).
 */
export const PRICES = {
  date: '2026-12',
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  sqsPerMillionRequests: 0.4,
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
  s3PerThousandPuts: 0.005,
  s3PerThousandGets: 0.0004,
  stepFunctionsPerMillionTransitions: 25,
  fargatePerVcpuHour: { X86_64: 0.04048, ARM64: 0.03238 },
  fargatePerGbHour: { X86_64: 0.004445, ARM64: 0.00356 },
  temporalCloudPerMillionActions: 25,
} as const;

/** Lambda's `architecture` (serverless.yml provider.architecture). */
export type LambdaArchitecture = keyof typeof PRICES.lambdaPerGbSecond;
/** ECS task definition's RuntimePlatform.CpuArchitecture (serverless.yml custom.stages.*.ecs). */
export type FargateArchitecture = keyof typeof PRICES.fargatePerVcpuHour;

/** What one step costs to run beyond its requests: Lambda memory and duration. */
export interface LambdaAssumptions {
  readonly architecture: LambdaArchitecture;
  readonly memoryMb: number;
  /** Billed duration per step (ms), lambdag's own work for a no-op step. */
  readonly msPerStep: number;
  /** Steps per Lambda invocation (SQS batch). */
  readonly stepsPerInvocation: number;
}

/** serverless.yml's provider.architecture and memorySize (test/unit/costModel.test.ts holds them equal). */
export const DEFAULT_LAMBDA: LambdaAssumptions = {
  architecture: 'arm64',
  memoryMb: 1024,
  msPerStep: 40,
  stepsPerInvocation: 1,
};

/**
 * A step's share of what its run costs besides its steps: StartRun, PollRun and FinalizeRun
 * (their requests and invocations) and the run's state machine (its transitions), each
 * divided by the run's steps. A 4-step run pays far more per step than a 10,000-step one.
 */
export interface RunShare {
  readonly requestsPerStep: Record<string, number>;
  readonly batchWriteItemsPerStep: number;
  readonly invocationsPerStep: number;
  /** Step Functions standard transitions per step (the run's, on AWS). */
  readonly transitionsPerStep: number;
  /** Seconds PollRun spent watching the run itself, per step (billed at POLL_RUN_MEMORY_MB). */
  readonly pollWatchSecondsPerStep?: number;
}

/** PollRun's memory (serverless.yml): what its watching costs per second. */
export const POLL_RUN_MEMORY_MB = 256;

export interface CostPerMillionSteps {
  readonly lambda: number;
  readonly sqs: number;
  readonly dynamodb: number;
  readonly s3: number;
  /** The run's state machine, per step. */
  readonly stepFunctions: number;
  readonly total: number;
  /** Of the total, the steps' own work (worker requests and invocations). */
  readonly steps: number;
  /** Of the total, the step's share of its run's (RunShare). */
  readonly runShare: number;
  readonly stepFunctionsStandardEquivalent: number;
  readonly temporalCloudEquivalent: number;
  readonly assumptions: string[];
}

const DDB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems']);
const DDB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

/** Dollars per million steps for SQS, DynamoDB and S3, from requests (and batch-written items) per step. */
function requestCost(requestsPerStep: Record<string, number>, batchWriteItemsPerStep: number) {
  let sqs = 0;
  let ddbWrites = 0;
  let ddbReads = 0;
  let s3Puts = 0;
  let s3Gets = 0;
  for (const [name, count] of Object.entries(requestsPerStep)) {
    const [service, operation = ''] = name.split('.');
    // Billed by the item (batchWriteItemsPerStep, counted by the request middleware), not by the request.
    if (service === 'DynamoDB' && operation === 'BatchWriteItem') continue;
    if (service === 'SQS') sqs += count;
    else if (service === 'DynamoDB' && DDB_WRITES.has(operation)) ddbWrites += count;
    else if (service === 'DynamoDB' && DDB_READS.has(operation)) ddbReads += count;
    else if (service === 'S3' && operation === 'PutObject') s3Puts += count;
    else if (service === 'S3') s3Gets += count;
  }
  ddbWrites += batchWriteItemsPerStep;
  return {
    sqs: sqs * PRICES.sqsPerMillionRequests,
    dynamodb: ddbWrites * PRICES.dynamodbPerMillionWriteUnits + ddbReads * PRICES.dynamodbPerMillionReadUnits,
    s3: s3Puts * 1000 * PRICES.s3PerThousandPuts + s3Gets * 1000 * PRICES.s3PerThousandGets,
  };
}

/** Lambda per million steps: requests and GB-seconds of `invocationsPerStep` invocations billed `ms` each. */
function lambdaCost(
  invocationsPerStep: number,
  msPerInvocation: number,
  memoryMb: number,
  architecture: LambdaArchitecture,
): number {
  const gbSeconds = (1_000_000 * invocationsPerStep * msPerInvocation * memoryMb) / 1024 / 1000;
  return (
    invocationsPerStep * PRICES.lambdaPerMillionRequests + gbSeconds * PRICES.lambdaPerGbSecond[architecture]
  );
}

/**
 * Dollars per million steps from requests per step by `Service.Operation`. Each DynamoDB
 * write, and each item of a BatchWriteItem, is counted as one write unit and each read as
 * one read unit (items under 1 KB / 4 KB; BatchGetItem counts one unit per request although
 * it reads several items, and strongly consistent reads cost 1 unit, so the DynamoDB figure
 * is a lower bound for steps with several upstream, and a release on a fan-in's shard item,
 * up to about 2 KB, costs up to 2 units). Each SQS request is one 64 KB chunk. The event source's
 * own receive and delete are added (2 SQS requests per invocation). With `run`, each step
 * also pays its share of its run's functions and state machine.
 */
export function costPerMillionSteps(
  requestsPerStep: Record<string, number>,
  /** Items the BatchWriteItem requests wrote, per step (each is a write unit). */
  batchWriteItemsPerStep: number,
  lambda: LambdaAssumptions = DEFAULT_LAMBDA,
  run?: RunShare,
): CostPerMillionSteps {
  const worker = requestCost(requestsPerStep, batchWriteItemsPerStep);
  // ReceiveMessage + DeleteMessageBatch by the event source, once per invocation's batch.
  const eventSourceSqs = (2 / lambda.stepsPerInvocation) * PRICES.sqsPerMillionRequests;
  // A step's billed time is its own, whatever the batch it runs in.
  const workerLambda = lambdaCost(
    1 / lambda.stepsPerInvocation,
    lambda.msPerStep * lambda.stepsPerInvocation,
    lambda.memoryMb,
    lambda.architecture,
  );
  const shared = run
    ? requestCost(run.requestsPerStep, run.batchWriteItemsPerStep)
    : { sqs: 0, dynamodb: 0, s3: 0 };
  const sharedLambda = run
    ? lambdaCost(run.invocationsPerStep, lambda.msPerStep, lambda.memoryMb, lambda.architecture) +
      (run.pollWatchSecondsPerStep ?? 0) *
        1_000_000 *
        (POLL_RUN_MEMORY_MB / 1024) *
        PRICES.lambdaPerGbSecond[lambda.architecture]
    : 0;
  const stepFunctions = run ? run.transitionsPerStep * PRICES.stepFunctionsPerMillionTransitions : 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  const steps = worker.sqs + eventSourceSqs + worker.dynamodb + worker.s3 + workerLambda;
  const runShare = shared.sqs + shared.dynamodb + shared.s3 + sharedLambda + stepFunctions;
  return {
    lambda: round(workerLambda + sharedLambda),
    sqs: round(worker.sqs + eventSourceSqs + shared.sqs),
    dynamodb: round(worker.dynamodb + shared.dynamodb),
    s3: round(worker.s3 + shared.s3),
    stepFunctions: round(stepFunctions),
    total: round(steps + runShare),
    steps: round(steps),
    runShare: round(runShare),
    // A step as a Task state: at least entering and leaving it (2 transitions), no retries.
    stepFunctionsStandardEquivalent: round(2 * PRICES.stepFunctionsPerMillionTransitions),
    // A step as a Temporal activity: schedule + complete (~2 actions at list price).
    temporalCloudEquivalent: round(2 * PRICES.temporalCloudPerMillionActions),
    assumptions: [
      `Lambda ${lambda.architecture} ${lambda.memoryMb} MB, ${lambda.msPerStep} ms billed per step and per run function invocation, ${Math.round(lambda.stepsPerInvocation * 100) / 100} step(s) per worker invocation`,
      `one DynamoDB unit per request and per item a BatchWriteItem writes (${Math.round(batchWriteItemsPerStep * 100) / 100} a step; small items), one SQS chunk per request, event source receive + delete = 2 SQS requests per invocation`,
      ...(run
        ? [
            `the run's share per step: ${Math.round(run.invocationsPerStep * 1000) / 1000} function invocations, ${Math.round(run.transitionsPerStep * 1000) / 1000} state transitions and ${Math.round((run.pollWatchSecondsPerStep ?? 0) * 1000) / 1000} s of PollRun watching at ${POLL_RUN_MEMORY_MB} MB (modelled for AWS)`,
          ]
        : []),
      'Step Functions: 2 transitions per step as a Task state; Temporal Cloud: 2 actions per activity',
      `list prices ${PRICES.date}, us-east-1, no free tier`,
    ],
  };
}

/** An ECS step's Fargate task: its size and how long it runs. */
export interface FargateTask {
  readonly architecture: FargateArchitecture;
  /** CPU units (1024 = 1 vCPU), as the task definition's Cpu. */
  readonly cpu: number;
  /** MiB, as the task definition's Memory. */
  readonly memoryMb: number;
  /** From the task's start to its end. */
  readonly seconds: number;
}

/** serverless.yml's custom.stages.*.ecs (test/unit/costModel.test.ts holds them equal). */
export const DEFAULT_FARGATE: Omit<FargateTask, 'seconds'> = {
  architecture: 'ARM64',
  cpu: 1024,
  memoryMb: 2048,
};

/**
 * Dollars per million ECS steps for their Fargate tasks alone (Linux, no extra ephemeral
 * storage; the step's Lambda, SQS and DynamoDB requests are priced by costPerMillionSteps).
 * Billed per second with a one-minute minimum.
 */
export function fargateCostPerMillionSteps(task: FargateTask): number {
  const hours = Math.max(60, Math.ceil(task.seconds)) / 3600;
  const perTask =
    hours *
    ((task.cpu / 1024) * PRICES.fargatePerVcpuHour[task.architecture] +
      (task.memoryMb / 1024) * PRICES.fargatePerGbHour[task.architecture]);
  return Math.round(perTask * 1_000_000 * 100) / 100;
}

/** Requests per step of some scopes together, from a snapshot and a step count. */
export function perStep(
  counts: RequestCounts,
  scopes: string | readonly string[],
  steps: number,
): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const scope of typeof scopes === 'string' ? [scopes] : scopes) {
    for (const [operation, n] of Object.entries(counts[scope] ?? {}))
      sums[operation] = (sums[operation] ?? 0) + n;
  }
  const out: Record<string, number> = {};
  for (const [operation, n] of Object.entries(sums))
    out[operation] = Math.round((n / steps) * 10_000) / 10_000;
  return out;
}
