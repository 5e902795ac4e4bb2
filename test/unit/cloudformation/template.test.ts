// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Fn::Sub strings are CloudFormation templates, not JavaScript ones
import { describe, expect, it } from 'vitest';
import {
  creationOrder,
  type EvaluationScope,
  evaluate,
  evaluateConditions,
  parseTemplate,
} from '../../../local/cloudformation/template.ts';

const scope = (conditions: Record<string, boolean> = {}): EvaluationScope => ({
  pseudo: { 'AWS::Region': 'us-east-1', 'AWS::StackName': 'app' },
  parameters: {},
  resource: (id) =>
    id === 'Queue' ? { ref: 'https://queue/q', attributes: { Arn: 'arn:aws:sqs:us-east-1:0:q' } } : undefined,
  condition: (name) => conditions[name] ?? false,
});

describe('template intrinsics', () => {
  it('evaluates Ref, GetAtt (both forms), Sub (with variables, attributes and ${!literal}), Join, Select and Split', () => {
    const value = evaluate(
      {
        ref: { Ref: 'Queue' },
        arn: { 'Fn::GetAtt': ['Queue', 'Arn'] },
        dotted: { 'Fn::GetAtt': 'Queue.Arn' },
        sub: { 'Fn::Sub': '${AWS::StackName}-${Queue.Arn}-${!Keep}' },
        subVars: { 'Fn::Sub': ['${Name}@${AWS::Region}', { Name: { Ref: 'Queue' } }] },
        join: { 'Fn::Join': [':', ['a', { Ref: 'AWS::Region' }]] },
        select: { 'Fn::Select': [1, { 'Fn::Split': [',', 'x,y,z'] }] },
      },
      scope(),
      'test',
    );

    expect(value).toEqual({
      ref: 'https://queue/q',
      arn: 'arn:aws:sqs:us-east-1:0:q',
      dotted: 'arn:aws:sqs:us-east-1:0:q',
      sub: 'app-arn:aws:sqs:us-east-1:0:q-${Keep}',
      subVars: 'https://queue/q@us-east-1',
      join: 'a:us-east-1',
      select: 'y',
    });
  });

  it('takes Fn::If branches and drops keys and items that are AWS::NoValue', () => {
    const value = evaluate(
      {
        on: { 'Fn::If': ['On', 'yes', 'no'] },
        gone: { 'Fn::If': ['Off', 'x', { Ref: 'AWS::NoValue' }] },
        list: ['a', { 'Fn::If': ['Off', 'b', { Ref: 'AWS::NoValue' }] }],
      },
      scope({ On: true }),
      'test',
    );

    expect(value).toEqual({ on: 'yes', list: ['a'] });
  });

  it('names the resource a Ref cannot resolve', () => {
    expect(() => evaluate({ Ref: 'Missing' }, scope(), 'Fn.Properties.Role')).toThrow(
      /Fn\.Properties\.Role.*Unresolved resource dependencies \[Missing\]/,
    );
  });

  it('evaluates conditions made of Equals, And, Or, Not and other conditions', () => {
    const conditions = evaluateConditions(
      {
        Resources: {},
        Conditions: {
          IsProd: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] },
          NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
          Both: {
            'Fn::And': [
              { Condition: 'NotProd' },
              { 'Fn::Or': [{ Condition: 'IsProd' }, { 'Fn::Equals': ['a', 'a'] }] },
            ],
          },
        },
      },
      scope(),
    );

    expect(Object.fromEntries(conditions)).toEqual({ IsProd: false, NotProd: true, Both: true });
  });
});

describe('creation order', () => {
  it('puts each resource after what it refers to and what it DependsOn', () => {
    const order = creationOrder({
      Function: {
        Type: 'AWS::Lambda::Function',
        Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] } },
        DependsOn: 'Logs',
      },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { FunctionName: { 'Fn::Sub': '${Function.Arn}' } },
      },
      Logs: { Type: 'AWS::Logs::LogGroup' },
      Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: { 'Fn::Sub': '${AWS::StackName}-role' } } },
    });

    expect(order.indexOf('Role')).toBeLessThan(order.indexOf('Function'));
    expect(order.indexOf('Logs')).toBeLessThan(order.indexOf('Function'));
    expect(order.indexOf('Function')).toBeLessThan(order.indexOf('Mapping'));
  });

  it('refuses a circular dependency and a DependsOn on a resource the template lacks', () => {
    expect(() =>
      creationOrder({
        A: { Type: 'T', Properties: { x: { Ref: 'B' } } },
        B: { Type: 'T', DependsOn: ['A'] },
      }),
    ).toThrow(/Circular dependency between resources/);
    expect(() => creationOrder({ A: { Type: 'T', DependsOn: 'Nope' } })).toThrow(
      /Unresolved resource dependencies \[Nope\]/,
    );
  });

  it('refuses a template that is not JSON or has a resource without a Type', () => {
    expect(() => parseTemplate('{')).toThrow(/Template format error: JSON not well-formed/);
    expect(() => parseTemplate('{"Resources":{"A":{}}}')).toThrow(
      /Every Resources object must contain a Type member/,
    );
  });
});
