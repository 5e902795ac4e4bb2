import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { useStack } from '../support/stack.ts';

const exec = promisify(execFile);
const handle = useStack();
const sfn = () => handle.deps.aws.sfn;
const machine = () => handle.stack.stateMachineArn;

async function settled(executionArn: string) {
  await handle.stack.waitForExecution(executionArn);
  return sfn().send(new DescribeExecutionCommand({ executionArn }));
}

/** Some machines have the AWS CLI (v1 or v2); where they do, it must work against the endpoint too. */
const awsCli = await exec('aws', ['--version']).then(
  () => true,
  () => false,
);

describe('the Step Functions API of the embedded stack, through @aws-sdk/client-sfn', () => {
  it('lists and describes the run state machine, whose definition is run.asl.json', async () => {
    const { stateMachines = [] } = await sfn().send(new ListStateMachinesCommand({}));
    expect(stateMachines.map((m) => m.stateMachineArn)).toEqual([machine()]);
    expect(stateMachines[0]?.creationDate).toBeInstanceOf(Date);
    const described = await sfn().send(new DescribeStateMachineCommand({ stateMachineArn: machine() }));
    expect(described).toMatchObject({ name: 'lambdag-local-run', status: 'ACTIVE', type: 'STANDARD' });
    const source = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../statemachines/run.asl.json'), 'utf8'),
    );
    const definition = JSON.parse(described.definition ?? '{}');
    expect(Object.keys(definition.States)).toEqual(Object.keys(source.States));
    expect(definition.States.StartRun.Resource).toMatch(
      /^arn:aws:lambda:us-east-1:000000000000:function:lambdag-local-startRun$/,
    );
  });

  it('starts a named execution, describes it, lists it and returns its history', async () => {
    const input = JSON.stringify({ job: 'diamond', input: { x: 4 } });
    const started = await sfn().send(
      new StartExecutionCommand({ stateMachineArn: machine(), name: 'api-diamond-1', input }),
    );
    expect(started.executionArn).toBe(`${machine().replace(':stateMachine:', ':execution:')}:api-diamond-1`);
    expect(started.startDate).toBeInstanceOf(Date);

    const described = await settled(started.executionArn ?? '');
    expect(described).toMatchObject({
      status: 'SUCCEEDED',
      name: 'api-diamond-1',
      input,
      stateMachineArn: machine(),
    });
    expect(JSON.parse(described.output ?? '{}')).toMatchObject({ status: 'SUCCEEDED', result: { sum: 25 } });
    expect(described.stopDate?.getTime()).toBeGreaterThanOrEqual(described.startDate?.getTime() ?? 0);

    const listed = await sfn().send(
      new ListExecutionsCommand({ stateMachineArn: machine(), statusFilter: 'SUCCEEDED' }),
    );
    expect(listed.executions?.map((e) => e.name)).toContain('api-diamond-1');

    const { events = [] } = await sfn().send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn }),
    );
    expect(events[0]?.type).toBe('ExecutionStarted');
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
    const entered = events
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails?.name);
    expect(entered.slice(0, 2)).toEqual(['StartRun', 'IsRunDone']);
    expect(entered).toContain('FinalizeRun');
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));

    const page = await sfn().send(
      new GetExecutionHistoryCommand({
        executionArn: started.executionArn,
        maxResults: 2,
        reverseOrder: true,
      }),
    );
    expect(page.events?.map((e) => e.type)[0]).toBe('ExecutionSucceeded');
    expect(page.nextToken).toBeDefined();
  });

  it('is idempotent by name and input, as on AWS', async () => {
    const input = JSON.stringify({ job: 'slow' });
    const first = await sfn().send(
      new StartExecutionCommand({ stateMachineArn: machine(), name: 'api-slow-1', input }),
    );
    const again = await sfn().send(
      new StartExecutionCommand({ stateMachineArn: machine(), name: 'api-slow-1', input }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    await expect(
      sfn().send(
        new StartExecutionCommand({
          stateMachineArn: machine(),
          name: 'api-slow-1',
          input: '{"job":"diamond"}',
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const stopped = await sfn().send(
      new StopExecutionCommand({
        executionArn: first.executionArn,
        error: 'test.Stop',
        cause: 'stopped by the test',
      }),
    );
    expect(stopped.stopDate).toBeInstanceOf(Date);
    const described = await settled(first.executionArn ?? '');
    expect(described).toMatchObject({ status: 'ABORTED', error: 'test.Stop', cause: 'stopped by the test' });
    const { events = [] } = await sfn().send(
      new GetExecutionHistoryCommand({ executionArn: first.executionArn }),
    );
    expect(events.at(-1)).toMatchObject({
      type: 'ExecutionAborted',
      executionAbortedEventDetails: { error: 'test.Stop', cause: 'stopped by the test' },
    });
    // A closed execution's name cannot be reused, even with the same input.
    await expect(
      sfn().send(new StartExecutionCommand({ stateMachineArn: machine(), name: 'api-slow-1', input })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('answers bad requests with the AWS error codes', async () => {
    await expect(
      sfn().send(
        new DescribeExecutionCommand({
          executionArn: `${machine()}:nope`.replace(':stateMachine:', ':execution:'),
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(
      sfn().send(new StartExecutionCommand({ stateMachineArn: `${machine()}-missing`, input: '{}' })),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      sfn().send(new StartExecutionCommand({ stateMachineArn: machine(), input: '{not json' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(
      sfn().send(new StartExecutionCommand({ stateMachineArn: machine(), name: 'has space', input: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidName' });
  });

  it.runIf(awsCli)('works with the AWS CLI and --endpoint-url', async () => {
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
    };
    const aws = async (...args: string[]) =>
      JSON.parse(
        (await exec('aws', ['--endpoint-url', handle.stack.endpoints.sfn, 'stepfunctions', ...args], { env }))
          .stdout,
      );
    const started = await aws(
      'start-execution',
      '--state-machine-arn',
      machine(),
      '--name',
      'cli-diamond-1',
      '--input',
      JSON.stringify({ job: 'diamond', input: { x: 1 } }),
    );
    await handle.stack.waitForExecution(started.executionArn);
    const described = await aws('describe-execution', '--execution-arn', started.executionArn);
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output).result).toEqual({ b: 4, c: 6, sum: 10 });
  });
});
