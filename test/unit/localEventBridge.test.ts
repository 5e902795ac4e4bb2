import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { type BusEntry, LocalEventBridge, ruleOf } from '../../local/eventBridge.ts';
import { LocalStepFunctions, type LocalTaskFunction } from '../../local/stepFunctions.ts';

const log = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:m';

function target(calls: unknown[], fail = 0): LocalTaskFunction {
  let failures = fail;
  return {
    functionName: 'ended',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:ended',
    timeoutSeconds: 10,
    memorySize: 256,
    handler: async (event) => {
      calls.push(event);
      if (failures-- > 0) throw new Error('boom');
      return { seen: (event as { id: string }).id };
    },
  };
}

const RULE = 'arn:aws:events:us-east-1:000000000000:rule/Rule';

/** An AWS::Events::Rule's properties, intrinsics evaluated, as the provisioners pass them. */
function ruleProperties(overrides: { pattern?: unknown; target?: object } = {}) {
  return {
    EventPattern: overrides.pattern ?? {
      source: ['aws.states'],
      detail: { stateMachineArn: [MACHINE], status: ['ABORTED', 'TIMED_OUT'] },
    },
    Targets: [
      { Id: 'ended', Arn: 'arn:aws:lambda:us-east-1:000000000000:function:ended', ...overrides.target },
    ],
  };
}

function bus(calls: unknown[], options: Parameters<typeof ruleProperties>[0] = {}, fail = 0) {
  const fn = target(calls, fail);
  const events = new LocalEventBridge({ region: 'us-east-1', accountId: '000000000000', log, retryMs: 1 });
  const rule = ruleOf('Rule', RULE, ruleProperties(options), (arn) => {
    expect(arn).toBe(fn.functionArn);
    return fn;
  });
  if (rule) events.putRule(rule);
  return events;
}

const entry = (status: string): BusEntry => ({
  source: 'aws.states',
  detailType: 'Step Functions Execution Status Change',
  detail: { stateMachineArn: MACHINE, status },
});

describe('the local event bus', () => {
  it("invokes a matching rule's target with the event in EventBridge's envelope, and skips the others", async () => {
    const calls: unknown[] = [];
    const events = bus(calls);
    const matched = events.put(entry('ABORTED'));
    expect(await matched.deliveries).toEqual([
      { rule: 'Rule', target: 'ended', functionName: 'ended', result: { seen: matched.event.id } },
    ]);
    expect(calls).toEqual([
      expect.objectContaining({
        version: '0',
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        account: '000000000000',
        region: 'us-east-1',
        detail: { stateMachineArn: MACHINE, status: 'ABORTED' },
      }),
    ]);
    expect(await events.put(entry('SUCCEEDED')).deliveries).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('retries a failing target twice, as Lambda does an asynchronous invocation, then reports its error', async () => {
    const calls: unknown[] = [];
    expect((await bus(calls, {}, 2).put(entry('ABORTED')).deliveries)[0]?.result).toBeDefined();
    expect(calls).toHaveLength(3);
    const failing: unknown[] = [];
    expect((await bus(failing, {}, 5).put(entry('ABORTED')).deliveries)[0]?.error).toBe('Error: boom');
    expect(failing).toHaveLength(3);
  });

  it('refuses what it does not implement: pattern features, target input transforms', () => {
    expect(() => bus([], { pattern: { source: [{ prefix: 'aws.' }] } })).toThrow(/content filter "prefix"/);
    expect(() => bus([], { target: { InputPath: '$.detail' } })).toThrow(/InputPath is not implemented/);
  });

  it('delivers nothing once closed', async () => {
    const calls: unknown[] = [];
    const events = bus(calls);
    await events.close();
    expect(await events.put(entry('ABORTED')).deliveries).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe('the local Step Functions', () => {
  it("publishes an execution's status changes, TIMED_OUT past the definition's TimeoutSeconds", async () => {
    const sfn = new LocalStepFunctions('us-east-1', '000000000000', log);
    const published: BusEntry[] = [];
    sfn.publishStatusChanges((e) => published.push(e));
    const arn = sfn.createStateMachine({
      name: 'm',
      roleArn: 'arn:aws:iam::000000000000:role/r',
      functions: new Map(),
      definition: JSON.stringify({
        StartAt: 'Sleep',
        TimeoutSeconds: 1,
        States: { Sleep: { Type: 'Wait', Seconds: 30, End: true } },
      }),
    });
    const execution = sfn.startExecution(arn, '{"a":1}', 'e1');
    await execution.done;
    expect(execution.status).toBe('TIMED_OUT');
    await new Promise((resolve) => setImmediate(resolve));
    expect(published.map((e) => (e.detail as { status: string }).status)).toEqual(['RUNNING', 'TIMED_OUT']);
    expect(published[1]).toMatchObject({
      source: 'aws.states',
      detailType: 'Step Functions Execution Status Change',
      resources: [execution.executionArn],
      detail: {
        executionArn: execution.executionArn,
        stateMachineArn: arn,
        name: 'e1',
        input: '{"a":1}',
        inputDetails: { included: true },
        output: null,
      },
    });
    await sfn.stopAll();
  });
});
