import { describe, expect, it } from 'vitest';
import { checkEventPattern, matchesEventPattern } from '../../local/eventPattern.ts';

const executionEnded = checkEventPattern(
  {
    source: ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    detail: {
      stateMachineArn: ['arn:aws:states:us-east-1:000000000000:stateMachine:m'],
      status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
    },
  },
  'Rule',
);

const event = (status: string, extra: Record<string, unknown> = {}) => ({
  version: '0',
  source: 'aws.states',
  'detail-type': 'Step Functions Execution Status Change',
  resources: ['arn:aws:states:us-east-1:000000000000:execution:m:e'],
  detail: { stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m', status, ...extra },
});

describe('an EventBridge event pattern on the local bus', () => {
  it('matches exact values, any one of a list, in nested fields', () => {
    for (const status of ['ABORTED', 'TIMED_OUT', 'FAILED'])
      expect(matchesEventPattern(executionEnded, event(status))).toBe(true);
    for (const status of ['RUNNING', 'SUCCEEDED', 'aborted'])
      expect(matchesEventPattern(executionEnded, event(status))).toBe(false);
    expect(matchesEventPattern(executionEnded, { ...event('ABORTED'), source: 'aws.ecs' })).toBe(false);
    expect(
      matchesEventPattern(
        executionEnded,
        event('ABORTED', { stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:other' }),
      ),
    ).toBe(false);
  });

  it('needs every field it names: a missing one, or a value where an object is wanted, does not match', () => {
    const { detail: _detail, ...noDetail } = event('ABORTED');
    expect(matchesEventPattern(executionEnded, noDetail)).toBe(false);
    expect(matchesEventPattern(executionEnded, { ...event('ABORTED'), detail: 'ABORTED' })).toBe(false);
    expect(matchesEventPattern(checkEventPattern({ detail: { error: [null] } }, 'R'), event('FAILED'))).toBe(
      false,
    );
    expect(
      matchesEventPattern(
        checkEventPattern({ detail: { error: [null] } }, 'R'),
        event('FAILED', { error: null }),
      ),
    ).toBe(true);
  });

  it('matches an array in the event when any of its values is in the list', () => {
    const pattern = checkEventPattern(
      { resources: ['arn:aws:states:us-east-1:000000000000:execution:m:e'] },
      'R',
    );
    expect(matchesEventPattern(pattern, event('RUNNING'))).toBe(true);
    expect(matchesEventPattern(pattern, { resources: ['other'] })).toBe(false);
    expect(matchesEventPattern(checkEventPattern({ detail: { n: [5] } }, 'R'), { detail: { n: 5 } })).toBe(
      true,
    );
    expect(matchesEventPattern(checkEventPattern({ detail: { n: [5] } }, 'R'), { detail: { n: '5' } })).toBe(
      false,
    );
  });

  it('refuses, naming the rule and the path, the pattern features it does not implement', () => {
    expect(() => checkEventPattern({ source: [{ prefix: 'aws.' }] }, 'serverless.yml R')).toThrow(
      /serverless.yml R: EventPattern at source: the content filter "prefix" is not implemented/,
    );
    expect(() => checkEventPattern({ detail: { status: [{ 'anything-but': 'RUNNING' }] } }, 'R')).toThrow(
      /at detail.status: the content filter "anything-but"/,
    );
    expect(() => checkEventPattern({ $or: [{ source: ['a'] }] }, 'R')).toThrow(
      /the \$or operator is not implemented/,
    );
    expect(() => checkEventPattern({ source: 'aws.states' }, 'R')).toThrow(/a leaf must be a list of values/);
    expect(() => checkEventPattern({ source: [] }, 'R')).toThrow(/an empty list matches nothing/);
    expect(() => checkEventPattern({ detail: {} }, 'R')).toThrow(/at detail: an empty object/);
    expect(() => checkEventPattern(['aws.states'], 'R')).toThrow(/a pattern level must be an object/);
  });
});
