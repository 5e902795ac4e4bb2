import { describe, expect, it } from 'vitest';
import { checkTemplate, formatProblems, ProblemCode } from '../support/templateSchema.ts';

/**
 * The template checker (test/support/templateSchema.ts) against small templates: what it
 * must find, with the resource, the property path and what is wrong, and what it must not.
 */

/** `${name}`, a Fn::Sub variable. */
const variable = (name: string) => `\${${name}}`;

const queue = { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q' } };
const logGroup = { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 7 } };

/** A state machine that logs to `Group`; each test breaks one thing of a copy. */
function sound() {
  return structuredClone({
    Conditions: { Prod: { 'Fn::Equals': ['dev', 'prod'] } },
    Resources: {
      Queue: queue,
      Group: logGroup,
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          RoleArn: 'arn:aws:iam::123456789012:role/r',
          DefinitionString: '{}',
          LoggingConfiguration: {
            Level: 'ERROR',
            IncludeExecutionData: false,
            Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['Group', 'Arn'] } } }],
          },
        },
      },
      Filter: {
        Type: 'AWS::Logs::MetricFilter',
        Condition: 'Prod',
        Properties: {
          LogGroupName: { Ref: 'Group' },
          FilterPattern: '{ $.type = "ExecutionFailed" }',
          MetricTransformations: [
            {
              MetricName: 'Failed',
              MetricNamespace: 'test',
              MetricValue: { 'Fn::If': ['Prod', '1', { Ref: 'AWS::NoValue' }] },
            },
          ],
        },
      },
    },
    Outputs: {
      QueueUrl: {
        Value: { 'Fn::Sub': ['Queue', 'Queue.Arn', 'AWS::Region', '!Literal'].map(variable).join(' ') },
      },
    },
  });
}

type Template = ReturnType<typeof sound>;
const broken = (change: (template: Template) => void) => {
  const template = sound();
  change(template);
  return checkTemplate(template);
};
const machineProperties = (t: Template) => t.Resources.Machine.Properties as Record<string, unknown>;

describe('checking a template against the CloudFormation resource schemas', () => {
  it('finds nothing wrong with a sound template', () => {
    expect(checkTemplate(sound())).toEqual([]);
  });

  it('names a misspelt property, nested in a property type too, with the likely name', () => {
    const problems = broken((t) => {
      machineProperties(t).LogingConfiguration = machineProperties(t).LoggingConfiguration;
      delete machineProperties(t).LoggingConfiguration;
      (t.Resources.Filter.Properties.MetricTransformations[0] as Record<string, unknown>).MetricNamspace =
        'x';
    });
    expect(problems).toEqual([
      expect.objectContaining({
        code: ProblemCode.UNKNOWN_PROPERTY,
        where: 'Machine',
        path: 'Properties.LogingConfiguration',
        message: expect.stringContaining('did you mean LoggingConfiguration?'),
      }),
      expect.objectContaining({
        code: ProblemCode.UNKNOWN_PROPERTY,
        where: 'Filter',
        path: 'Properties.MetricTransformations[0].MetricNamspace',
      }),
    ]);
  });

  it('names a missing required property, also of a nested property type', () => {
    const problems = broken((t) => {
      delete (t.Resources.Filter.Properties as Record<string, unknown>).FilterPattern;
      delete (t.Resources.Filter.Properties.MetricTransformations[0] as Record<string, unknown>).MetricValue;
    });
    expect(problems.map((p) => [p.code, p.where, p.path])).toEqual([
      [ProblemCode.MISSING_PROPERTY, 'Filter', 'Properties.MetricTransformations[0].MetricValue'],
      [ProblemCode.MISSING_PROPERTY, 'Filter', 'Properties.FilterPattern'],
    ]);
  });

  it('names a resource type CloudFormation does not have', () => {
    const problems = broken((t) => {
      (t.Resources.Queue as { Type: string }).Type = 'AWS::SQS::Queues';
    });
    expect(problems).toEqual([
      {
        code: ProblemCode.UNKNOWN_TYPE,
        where: 'Queue',
        path: 'Type',
        message: 'AWS::SQS::Queues is not a CloudFormation resource type',
      },
    ]);
  });

  it("names a GetAtt of an attribute the resource's type does not have, and of a resource not declared", () => {
    const problems = broken((t) => {
      machineProperties(t).RoleArn = { 'Fn::GetAtt': ['Queue', 'Url'] };
      t.Outputs.QueueUrl.Value = { 'Fn::Sub': variable('Group.Name') };
      (t.Resources.Filter.Properties as Record<string, unknown>).LogGroupName = {
        'Fn::GetAtt': ['Grop', 'Arn'],
      };
    });
    expect(problems.map((p) => [p.code, p.where, p.path])).toEqual([
      [ProblemCode.UNKNOWN_ATTRIBUTE, 'Machine', 'Properties.RoleArn'],
      [ProblemCode.UNKNOWN_REFERENCE, 'Filter', 'Properties.LogGroupName'],
      [ProblemCode.UNKNOWN_ATTRIBUTE, 'Outputs.QueueUrl', 'Value.Fn::Sub'],
    ]);
    expect(problems[0]?.message).toBe(
      'Fn::GetAtt Queue.Url: AWS::SQS::Queue has no attribute Url (did you mean QueueUrl?) (it has: Arn, QueueName, QueueUrl)',
    );
    expect(problems[1]?.message).toContain('no such resource (did you mean Group?)');
  });

  it('names a Ref, a DependsOn and a condition that resolve to nothing', () => {
    const problems = broken((t) => {
      (t.Resources.Filter.Properties as Record<string, unknown>).LogGroupName = { Ref: 'Groupp' };
      (t.Resources.Queue as Record<string, unknown>).DependsOn = ['Group', 'Nothing'];
      t.Resources.Filter.Condition = 'Production';
      t.Resources.Filter.Properties.MetricTransformations[0]!.MetricValue = {
        'Fn::If': ['Staging', '1', { Ref: 'AWS::NoValue' }],
      };
    });
    expect(problems.map((p) => [p.code, p.where, p.path])).toEqual([
      [ProblemCode.UNKNOWN_REFERENCE, 'Queue', 'DependsOn[1]'],
      [ProblemCode.UNKNOWN_CONDITION, 'Filter', 'Condition'],
      [ProblemCode.UNKNOWN_REFERENCE, 'Filter', 'Properties.LogGroupName'],
      [ProblemCode.UNKNOWN_CONDITION, 'Filter', 'Properties.MetricTransformations[0].MetricValue.Fn::If[0]'],
    ]);
  });

  it('checks each branch of an Fn::If as a value of the property, AWS::NoValue aside', () => {
    const problems = broken((t) => {
      machineProperties(t).LoggingConfiguration = {
        'Fn::If': ['Prod', { Level: 'ERROR', Destination: [] }, { Ref: 'AWS::NoValue' }],
      };
    });
    expect(problems.map((p) => [p.code, p.where, p.path])).toEqual([
      [ProblemCode.UNKNOWN_PROPERTY, 'Machine', 'Properties.LoggingConfiguration.Fn::If[1].Destination'],
    ]);
  });

  it('names a value outside the allowed ones and a list given where an object goes', () => {
    const problems = broken((t) => {
      machineProperties(t).LoggingConfiguration = { Level: 'ERRORS', Destinations: {} };
    });
    expect(formatProblems(problems).split('\n')).toEqual([
      'Machine Properties.LoggingConfiguration.Level: "ERRORS" is not one of ALL, ERROR, FATAL, OFF (did you mean ERROR?) [NOT_ALLOWED]',
      'Machine Properties.LoggingConfiguration.Destinations: expected a list of an object (LogDestination), got {} [WRONG_SHAPE]',
    ]);
  });
});
