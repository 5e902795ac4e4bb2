import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  costPerMillionSteps,
  DEFAULT_FARGATE,
  DEFAULT_LAMBDA,
  fargateCostPerMillionSteps,
  POLL_RUN_MEMORY_MB,
} from '../../bench/costModel.ts';

/** A chain step's requests: idempotency put, claim, result, counter, one batch write, one send. */
const CHAIN_STEP = {
  'DynamoDB.PutItem': 1,
  'DynamoDB.UpdateItem': 3,
  'DynamoDB.BatchWriteItem': 1,
  'SQS.SendMessageBatch': 1,
};

describe('cost per million steps', () => {
  it('bills DynamoDB by the item a BatchWriteItem writes, not by the request', () => {
    const three = costPerMillionSteps(CHAIN_STEP, 3);
    const one = costPerMillionSteps(CHAIN_STEP, 1);
    // 1 + 3 + 3 write units at $0.625 per million.
    expect(three.dynamodb).toBe(4.38);
    expect(three.dynamodb - one.dynamodb).toBeCloseTo(1.25, 2);
  });

  it('adds the event source receive and delete once per invocation, and Lambda by requests and GB-seconds', () => {
    const single = costPerMillionSteps(CHAIN_STEP, 3);
    // 1 send + receive + delete per step: 3 requests at $0.40 per million.
    expect(single.sqs).toBe(1.2);
    // $0.20 per million requests + 1,000,000 x 40 ms x 1 GB = 40,000 GB-s at arm64's $0.0000133334.
    expect(single.lambda).toBe(0.73);
    expect(single.total).toBe(6.31);
    const batched = costPerMillionSteps(CHAIN_STEP, 3, { ...DEFAULT_LAMBDA, stepsPerInvocation: 10 });
    expect(batched.sqs).toBe(0.48);
    expect(batched.lambda).toBe(0.55);
    expect(single.stepFunctionsStandardEquivalent).toBe(50);
  });

  it("charges each step its share of the run's functions and state machine", () => {
    // A 4-step run: 14 transitions, StartRun + FinalizeRun + 2 polls = 4 invocations, one
    // BatchWriteItem of its 4 step items.
    const share = {
      requestsPerStep: { 'DynamoDB.PutItem': 0.5, 'DynamoDB.BatchWriteItem': 0.25 },
      batchWriteItemsPerStep: 1,
      invocationsPerStep: 1,
      transitionsPerStep: 3.5,
    };
    const alone = costPerMillionSteps(CHAIN_STEP, 3);
    const withRun = costPerMillionSteps(CHAIN_STEP, 3, DEFAULT_LAMBDA, share);
    expect(alone.runShare).toBe(0);
    expect(withRun.steps).toBe(alone.total);
    // 3.5 transitions at $25 per million.
    expect(withRun.stepFunctions).toBe(87.5);
    // 1.5 write units at $0.625, one more invocation (0.73), the transitions.
    expect(withRun.runShare).toBe(Math.round((1.5 * 0.625 + 0.2 + 40_000 * 0.0000133334 + 87.5) * 100) / 100);
    expect(withRun.total).toBeCloseTo(withRun.steps + withRun.runShare, 1);

    // PollRun watching the run for 2 s a step, at 256 MB: 2 × 0.25 GB-s more Lambda per step.
    const watched = costPerMillionSteps(CHAIN_STEP, 3, DEFAULT_LAMBDA, {
      ...share,
      pollWatchSecondsPerStep: 2,
    });
    expect(watched.runShare - withRun.runShare).toBeCloseTo(2 * 0.25 * 1_000_000 * 0.0000133334, 1);
    expect(watched.lambda - withRun.lambda).toBeCloseTo(6.67, 1);
  });

  it('bills Lambda GB-seconds at the rate of the architecture', () => {
    const arm = costPerMillionSteps(CHAIN_STEP, 3);
    const x86 = costPerMillionSteps(CHAIN_STEP, 3, { ...DEFAULT_LAMBDA, architecture: 'x86_64' });
    // 40,000 GB-s at $0.0000166667 instead of $0.0000133334.
    expect(x86.lambda).toBe(0.87);
    expect(x86.lambda - arm.lambda).toBeCloseTo(40_000 * (0.0000166667 - 0.0000133334), 1);
  });
});

describe('Fargate per million ECS steps', () => {
  it('bills vCPU-hours and GB-hours at the ARM64 rates, per second with a one-minute minimum', () => {
    // 1 vCPU and 2 GB for 10 minutes: ($0.03238 + 2 x $0.00356) / 6 a task.
    expect(fargateCostPerMillionSteps({ ...DEFAULT_FARGATE, seconds: 600 })).toBe(6583.33);
    expect(fargateCostPerMillionSteps({ ...DEFAULT_FARGATE, architecture: 'X86_64', seconds: 600 })).toBe(
      8228.33,
    );
    // A 10-second task is billed a minute.
    expect(fargateCostPerMillionSteps({ ...DEFAULT_FARGATE, seconds: 10 })).toBe(
      fargateCostPerMillionSteps({ ...DEFAULT_FARGATE, seconds: 60 }),
    );
  });
});

describe('the model prices what serverless.yml deploys', () => {
  const doc = parse(readFileSync(join(import.meta.dirname, '../../serverless.yml'), 'utf8')) as {
    provider: { architecture: string; memorySize: number };
    functions: { pollRun: { memorySize: number } };
    custom: { stages: Record<string, { ecs: { architecture: string; cpu: string; memory: string } }> };
  };

  it("the functions' architecture and memory", () => {
    expect(DEFAULT_LAMBDA.architecture).toBe(doc.provider.architecture);
    expect(DEFAULT_LAMBDA.memoryMb).toBe(doc.provider.memorySize);
    expect(POLL_RUN_MEMORY_MB).toBe(doc.functions.pollRun.memorySize);
  });

  it("every stage's ECS task architecture and size", () => {
    for (const [stage, { ecs }] of Object.entries(doc.custom.stages)) {
      expect({
        stage,
        architecture: ecs.architecture,
        cpu: Number(ecs.cpu),
        memoryMb: Number(ecs.memory),
      }).toEqual({
        stage,
        architecture: DEFAULT_FARGATE.architecture,
        cpu: DEFAULT_FARGATE.cpu,
        memoryMb: DEFAULT_FARGATE.memoryMb,
      });
    }
  });
});
