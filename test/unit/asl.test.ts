import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, ERROR_NAMES, InvalidJobError, StepTimeoutError } from '../../lib/errors.ts';

const dir = join(import.meta.dirname, '../../statemachines');
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));

/** Placeholders become ARNs at deploy time (and in the local stack). */
function substituted(text: string): unknown {
  return JSON.parse(
    text.replace(
      /\$\{(\w+)FunctionArn\}/g,
      (_, fn: string) => `arn:aws:lambda:us-east-1:123456789012:function:lambdag-${fn}`,
    ),
  );
}

/**
 * The names not ours that ErrorEquals may match, each a documented error: the States
 * runtime's, the Lambda service integration's (an invocation that failed before our code
 * ran), the Step Functions integration's (ContinueAsNew's startExecution).
 */
const AWS_ERROR_NAMES = [
  'States.ALL',
  'States.TaskFailed',
  'States.Timeout',
  'States.HeartbeatTimeout',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'StepFunctions.ExecutionAlreadyExistsException',
  'StepFunctions.ExecutionLimitExceededException',
  'StepFunctions.SdkClientException',
];

/** The errors an execution fails with from a Fail state: the run's outcome, read by executionEnded and the CLI. */
const FAIL_ERROR_NAMES = ['lambdag.RunFailed', 'lambdag.RunCanceled'];

function walk(value: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      visit(key, inner);
      walk(inner, visit);
    }
  }
}

describe.each(files)('state machine %s', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');
  const definition = substituted(text);

  it('is valid ASL', () => {
    const { isValid, errors: problems } = aslValidator(definition as Parameters<typeof aslValidator>[0]);
    expect(problems).toEqual([]);
    expect(isValid).toBe(true);
  });

  it('uses JSONPath only: no JSONata and no Assign (the local engine ignores them silently)', () => {
    const found: string[] = [];
    walk(definition, (key, value) => {
      if (key === 'Assign' || key === 'Arguments' || key === 'Output') found.push(key);
      if (key === 'QueryLanguage' && value !== 'JSONPath') found.push(`QueryLanguage=${String(value)}`);
      if (typeof value === 'string' && value.startsWith('{%')) found.push(value);
    });
    expect(found).toEqual([]);
  });

  it('names only real errors in ErrorEquals: one of our error classes, or an AWS name we list', () => {
    const known = new Set<string>([...ERROR_NAMES, ...AWS_ERROR_NAMES]);
    const named: string[] = [];
    walk(definition, (key, value) => {
      if (key === 'ErrorEquals' && Array.isArray(value)) named.push(...(value as string[]));
    });
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });

  it('ends in Fail states only with the errors it documents', () => {
    const raised: string[] = [];
    walk(definition, (_key, value) => {
      if (value && typeof value === 'object' && (value as { Type?: unknown }).Type === 'Fail') {
        raised.push(String((value as { Error?: unknown }).Error));
      }
    });
    expect(raised.filter((name) => !FAIL_ERROR_NAMES.includes(name))).toEqual([]);
  });
});

describe('error names', () => {
  it('are the literal names the errors carry', () => {
    expect(ERROR_NAMES).toContain(new InvalidJobError('j', 'm').name);
    expect(ERROR_NAMES).toContain(new StepTimeoutError('s', 1).name);
  });

  it('that the state machine retries in place are exactly the transient ones', () => {
    const retried = new Set<string>();
    for (const file of files) {
      walk(substituted(readFileSync(join(dir, file), 'utf8')), (key, value) => {
        if (key !== 'Retry' || !Array.isArray(value)) return;
        for (const rule of value as { ErrorEquals: string[] }[])
          for (const name of rule.ErrorEquals) retried.add(name);
      });
    }
    const ours = ERROR_CLASSES.filter((cls) => retried.has(cls.errorName));
    expect(ours.map((cls) => cls.errorName)).toEqual(
      ERROR_CLASSES.filter((cls) => cls.retry.transient).map((cls) => cls.errorName),
    );
  });
});

describe('run.asl.json, run by aws-local-stepfunctions with its tasks stubbed', () => {
  it('runs StartRun again with the request it handed back while the plan is not written', async () => {
    const { StateMachine } = await import('aws-local-stepfunctions');
    const definition = substituted(readFileSync(join(dir, 'run.asl.json'), 'utf8'));
    const starts: unknown[] = [];
    const polled = {
      runId: 'r1',
      status: 'SUCCEEDED',
      waitSeconds: 1,
      progress: 1,
      idleSeconds: 0,
      ticks: 1,
    };
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
    const execution = machine.run({ job: 'wide' } as never, {
      overrides: {
        waitTimeOverrides: { WaitForProgress: 0 },
        taskResourceLocalHandlers: {
          StartRun: async (event: { request: unknown }) => {
            starts.push(event.request);
            return starts.length < 3
              ? {
                  runId: 'r1',
                  status: 'STARTING',
                  resume: { job: 'wide', runId: 'r1' },
                  stepsWritten: 2_000 * starts.length,
                }
              : { ...polled, status: 'RUNNING' };
          },
          PollRun: async () => polled,
          FinalizeRun: async () => ({ ...polled, outcome: 'SUCCEEDED' }),
        },
      } as never,
      context: { Execution: { Id: 'arn:aws:states:us-east-1:123456789012:execution:run:e1' } } as never,
    });
    await expect(execution.result).resolves.toMatchObject({ outcome: 'SUCCEEDED' });
    expect(starts).toEqual([{ job: 'wide' }, { job: 'wide', runId: 'r1' }, { job: 'wide', runId: 'r1' }]);
  });
});
