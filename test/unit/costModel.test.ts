import { describe, expect, it } from 'vitest';
import { costPerMillionSteps, DEFAULT_LAMBDA } from '../../bench/costModel.ts';

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
    // 1 + 3 + 3 write units at $1.25 per million.
    expect(three.dynamodb).toBe(8.75);
    expect(three.dynamodb - one.dynamodb).toBe(2.5);
  });

  it('adds the event source receive and delete once per invocation, and Lambda by requests and GB-seconds', () => {
    const single = costPerMillionSteps(CHAIN_STEP, 3);
    // 1 send + receive + delete per step: 3 requests at $0.40 per million.
    expect(single.sqs).toBe(1.2);
    // $0.20 per million requests + 1,000,000 x 40 ms x 1 GB = 40,000 GB-s at $0.0000166667.
    expect(single.lambda).toBe(0.87);
    expect(single.total).toBe(10.82);
    const batched = costPerMillionSteps(CHAIN_STEP, 3, { ...DEFAULT_LAMBDA, stepsPerInvocation: 10 });
    expect(batched.sqs).toBe(0.48);
    expect(batched.lambda).toBe(0.69);
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
    // 1.5 write units at $1.25, one more invocation (0.87), the transitions.
    expect(withRun.runShare).toBe(Math.round((1.5 * 1.25 + 0.2 + 40_000 * 0.0000166667 + 87.5) * 100) / 100);
    expect(withRun.total).toBeCloseTo(withRun.steps + withRun.runShare, 1);

    // PollRun watching the run for 2 s a step, at 256 MB: 2 × 0.25 GB-s more Lambda per step.
    const watched = costPerMillionSteps(CHAIN_STEP, 3, DEFAULT_LAMBDA, {
      ...share,
      pollWatchSecondsPerStep: 2,
    });
    expect(watched.runShare - withRun.runShare).toBeCloseTo(2 * 0.25 * 1_000_000 * 0.0000166667, 1);
    expect(watched.lambda - withRun.lambda).toBeCloseTo(8.33, 1);
  });
});
