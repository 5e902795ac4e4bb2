import { describe, expect, it } from 'vitest';
import {
  actionMatch,
  arnMatch,
  checkStatement,
  evaluate,
  type SourcedStatement,
} from '../../local/iam/policy.ts';
import { usageReport } from '../support/iamUsage.ts';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/runs';
const allow = (statement: Partial<SourcedStatement['statement']>, source = 'Role/p#A'): SourcedStatement => ({
  statement: { Effect: 'Allow', ...statement },
  source,
});

describe('IAM policy evaluation', () => {
  it('denies what no statement allows (implicit deny)', () => {
    const decision = evaluate([allow({ Action: 'dynamodb:GetItem', Resource: TABLE })], {
      action: 'dynamodb:PutItem',
      resource: TABLE,
    });
    expect(decision).toEqual({ allowed: false, reason: 'no-allow' });
  });

  it('allows by the first matching statement, and an explicit Deny wins over any Allow', () => {
    const statements = [
      allow({ Action: ['dynamodb:*'], Resource: '*' }, 'Role/p#All'),
      {
        statement: { Effect: 'Deny' as const, Action: 'dynamodb:DeleteItem', Resource: TABLE },
        source: 'Role/p#NoDelete',
      },
    ];
    expect(evaluate(statements, { action: 'dynamodb:PutItem', resource: TABLE })).toMatchObject({
      allowed: true,
      by: { source: 'Role/p#All' },
    });
    expect(evaluate(statements, { action: 'dynamodb:DeleteItem', resource: TABLE })).toMatchObject({
      allowed: false,
      reason: 'explicit-deny',
      by: { source: 'Role/p#NoDelete' },
    });
  });

  it('matches actions case-insensitively with wildcards, and ARNs case-sensitively', () => {
    expect(actionMatch('s3:Get*', 's3:getobject')).toBe(true);
    expect(actionMatch('s3:Get?bject', 's3:GetObject')).toBe(true);
    expect(actionMatch('s3:Get*', 's3:PutObject')).toBe(false);
    expect(arnMatch('arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/runs/a/b.json')).toBe(true);
    expect(arnMatch('arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket')).toBe(false);
    expect(arnMatch('arn:aws:s3:::Bucket/*', 'arn:aws:s3:::bucket/x')).toBe(false);
    expect(
      arnMatch(
        'arn:aws:ecs:us-east-1:1:task-definition/step:*',
        'arn:aws:ecs:us-east-1:1:task-definition/step:3',
      ),
    ).toBe(true);
  });

  it('reads NotAction and NotResource as their complements', () => {
    const statements = [allow({ NotAction: 'dynamodb:DeleteItem', NotResource: `${TABLE}/index/*` })];
    expect(evaluate(statements, { action: 'dynamodb:PutItem', resource: TABLE }).allowed).toBe(true);
    expect(evaluate(statements, { action: 'dynamodb:DeleteItem', resource: TABLE }).allowed).toBe(false);
    expect(evaluate(statements, { action: 'dynamodb:Query', resource: `${TABLE}/index/byJob` }).allowed).toBe(
      false,
    );
  });

  it('evaluates the conditions our statements use, a missing key failing a positive operator', () => {
    const cluster = 'arn:aws:ecs:us-east-1:1:cluster/lambdag';
    const statements = [
      allow({ Action: 'ecs:RunTask', Resource: '*', Condition: { ArnEquals: { 'ecs:cluster': cluster } } }),
      allow({
        Action: 'iam:PassRole',
        Resource: '*',
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    ];
    const runTask = (context: Record<string, string>) =>
      evaluate(statements, { action: 'ecs:RunTask', resource: 'x', context }).allowed;
    expect(runTask({ 'ecs:cluster': cluster })).toBe(true);
    expect(runTask({ 'ECS:Cluster': cluster })).toBe(true);
    expect(runTask({ 'ecs:cluster': `${cluster}-other` })).toBe(false);
    expect(runTask({})).toBe(false);
    const pass = (service: string) =>
      evaluate(statements, {
        action: 'iam:PassRole',
        resource: 'r',
        context: { 'iam:PassedToService': service },
      }).allowed;
    expect(pass('ecs-tasks.amazonaws.com')).toBe(true);
    expect(pass('lambda.amazonaws.com')).toBe(false);
  });

  it('applies a Deny on aws:SecureTransport false only to requests that are not over TLS', () => {
    const statements = [
      allow({ Action: 's3:*', Resource: '*' }),
      {
        statement: {
          Effect: 'Deny' as const,
          Action: 's3:*',
          Resource: '*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
        source: 'Bucket/policy#DenyInsecureTransport',
      },
    ];
    const over = (secure: string) =>
      evaluate(statements, {
        action: 's3:GetObject',
        resource: 'x',
        context: { 'aws:SecureTransport': secure },
      });
    expect(over('true').allowed).toBe(true);
    expect(over('false')).toMatchObject({ allowed: false, reason: 'explicit-deny' });
  });

  it('refuses a statement it cannot read instead of guessing', () => {
    expect(() =>
      checkStatement(
        allow({ Action: 'a:b', Resource: '*', Condition: { NumericLessThan: { 'a:b': '1' } } }, 'R/p#X'),
      ),
    ).toThrow(/R\/p#X: condition operator NumericLessThan is not evaluated/);
    expect(() => checkStatement(allow({ Resource: '*' }, 'R/p#Y'))).toThrow(
      /exactly one of Action and NotAction/,
    );
  });
});

describe('the permission report', () => {
  it('sets each granted action against the requests that used it, excusing what cannot be used locally', () => {
    const roles = {
      WorkerRole: [
        {
          source: 'WorkerRole/w#Table',
          statement: {
            Effect: 'Allow' as const,
            Action: ['dynamodb:GetItem', 'dynamodb:DeleteItem'],
            Resource: TABLE,
          },
        },
        {
          source: 'WorkerRole/w#Logs',
          statement: { Effect: 'Allow' as const, Action: ['logs:PutLogEvents'], Resource: '*' },
        },
      ],
    };
    const report = usageReport([
      {
        roles,
        allowed: [
          {
            principal: 'worker',
            role: 'WorkerRole',
            operation: 'DynamoDB.GetItem',
            action: 'dynamodb:GetItem',
            resource: TABLE,
            statement: 'WorkerRole/w#Table',
            count: 3,
          },
        ],
        denied: [],
      },
      {
        roles,
        allowed: [
          {
            principal: 'other',
            role: 'WorkerRole',
            operation: 'DynamoDB.GetItem',
            action: 'dynamodb:getitem',
            resource: TABLE,
            statement: 'WorkerRole/w#Table',
            count: 2,
          },
        ],
        denied: [],
      },
    ]);
    expect(report.used).toEqual([
      {
        role: 'WorkerRole',
        statement: 'WorkerRole/w#Table',
        action: 'dynamodb:GetItem',
        requests: 5,
        principals: ['other', 'worker'],
      },
    ]);
    expect(report.unused).toEqual([
      { role: 'WorkerRole', statement: 'WorkerRole/w#Table', action: 'dynamodb:DeleteItem' },
    ]);
    expect(report.excused.map((e) => e.action)).toEqual(['logs:PutLogEvents']);
  });
});
