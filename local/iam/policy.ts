import { LocalStackError } from '../../lib/errors.ts';

/**
 * IAM policy evaluation for the embedded stack: identity-based statements as
 * serverless.yml writes them (Allow and Deny, Action/NotAction, Resource/NotResource,
 * `*` and `?` wildcards, the condition operators our statements use). The rules are
 * AWS's: an explicit Deny wins, else an Allow allows, else the request is implicitly
 * denied. A condition operator it does not implement is refused at load time, never
 * guessed: a policy it cannot read must not quietly allow or deny.
 */

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
  /** Resource-based policies only: whom the statement is about. */
  readonly Principal?: unknown;
}

/** A statement with where it came from, for messages and the permission report. */
export interface SourcedStatement {
  readonly statement: PolicyStatement;
  /** `<Role or Policy logical id>/<PolicyName>#<Sid or index>`. */
  readonly source: string;
}

/** One authorization question: may this action be done on this resource, in this context? */
export interface AccessRequest {
  readonly action: string;
  readonly resource: string;
  /** Condition keys and their values for this request (`ecs:cluster`, `aws:SecureTransport`, ...). */
  readonly context?: Readonly<Record<string, string>>;
}

export type Decision =
  | { readonly allowed: true; readonly by: SourcedStatement }
  | { readonly allowed: false; readonly reason: 'explicit-deny'; readonly by: SourcedStatement }
  | { readonly allowed: false; readonly reason: 'no-allow' };

const OPERATORS = new Set([
  'StringEquals',
  'StringNotEquals',
  'StringLike',
  'StringNotLike',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Bool',
]);

/** Throw a LocalStackError naming the statement if it uses what this evaluator cannot read. */
export function checkStatement({ statement, source }: SourcedStatement): void {
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny')
    throw new LocalStackError(`${source}: Effect must be Allow or Deny, got ${String(statement.Effect)}`);
  if ((statement.Action === undefined) === (statement.NotAction === undefined))
    throw new LocalStackError(`${source}: a statement needs exactly one of Action and NotAction`);
  if ((statement.Resource === undefined) === (statement.NotResource === undefined))
    throw new LocalStackError(`${source}: a statement needs exactly one of Resource and NotResource`);
  for (const operator of Object.keys(statement.Condition ?? {})) {
    const base = operator.replace(/IfExists$/, '');
    if (!OPERATORS.has(base))
      throw new LocalStackError(
        `${source}: condition operator ${operator} is not evaluated by the embedded stack (it knows ${[...OPERATORS].join(', ')})`,
      );
  }
  for (const value of [...list(statement.Resource), ...list(statement.NotResource)]) {
    if (typeof value !== 'string')
      throw new LocalStackError(
        `${source}: Resource ${JSON.stringify(value)} is not a string after resolution`,
      );
  }
}

/** Evaluate identity-based statements (one principal's) for one request. */
export function evaluate(statements: readonly SourcedStatement[], request: AccessRequest): Decision {
  let allow: SourcedStatement | undefined;
  for (const sourced of statements) {
    if (!applies(sourced.statement, request)) continue;
    if (sourced.statement.Effect === 'Deny') return { allowed: false, reason: 'explicit-deny', by: sourced };
    allow ??= sourced;
  }
  return allow ? { allowed: true, by: allow } : { allowed: false, reason: 'no-allow' };
}

/** Does this statement speak about this request (action, resource and conditions all match)? */
export function applies(statement: PolicyStatement, request: AccessRequest): boolean {
  const actionMatches =
    statement.Action !== undefined
      ? list(statement.Action).some((pattern) => actionMatch(pattern, request.action))
      : !list(statement.NotAction).some((pattern) => actionMatch(pattern, request.action));
  if (!actionMatches) return false;
  const resourceMatches =
    statement.Resource !== undefined
      ? list(statement.Resource).some((pattern) => arnMatch(pattern, request.resource))
      : !list(statement.NotResource).some((pattern) => arnMatch(pattern, request.resource));
  if (!resourceMatches) return false;
  return conditionsHold(statement.Condition ?? {}, request.context ?? {});
}

/** Actions compare case-insensitively, with `*` and `?` wildcards (`s3:Get*`). */
export function actionMatch(pattern: string, action: string): boolean {
  return wildcard(pattern.toLowerCase()).test(action.toLowerCase());
}

/**
 * ARNs compare case-sensitively with wildcards. `*` alone matches every resource; a
 * `*` inside the last (resource) part crosses `/` (`arn:aws:s3:::bucket/*` matches
 * every key), as IAM's matching does.
 */
export function arnMatch(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  return wildcard(pattern).test(arn);
}

function conditionsHold(
  conditions: NonNullable<PolicyStatement['Condition']>,
  context: Readonly<Record<string, string>>,
): boolean {
  for (const [operator, entries] of Object.entries(conditions)) {
    const ifExists = operator.endsWith('IfExists');
    const base = operator.replace(/IfExists$/, '');
    for (const [key, expected] of Object.entries(entries)) {
      const actual = lookup(context, key);
      if (actual === undefined) {
        // A missing key satisfies only ...IfExists and the negated operators.
        if (ifExists || base.includes('Not')) continue;
        return false;
      }
      if (!operatorHolds(base, list(expected), actual)) return false;
    }
  }
  return true;
}

function operatorHolds(operator: string, expected: readonly string[], actual: string): boolean {
  switch (operator) {
    case 'StringEquals':
    case 'ArnEquals':
      return expected.includes(actual);
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return !expected.includes(actual);
    case 'StringLike':
    case 'ArnLike':
      return expected.some((pattern) => wildcard(pattern).test(actual));
    case 'StringNotLike':
    case 'ArnNotLike':
      return !expected.some((pattern) => wildcard(pattern).test(actual));
    case 'Bool':
      return expected.map((value) => String(value).toLowerCase()).includes(actual.toLowerCase());
    default:
      throw new LocalStackError(`condition operator ${operator} is not evaluated by the embedded stack`);
  }
}

/** Condition keys are case-insensitive. */
function lookup(context: Readonly<Record<string, string>>, key: string): string | undefined {
  const lower = key.toLowerCase();
  for (const [name, value] of Object.entries(context)) if (name.toLowerCase() === lower) return value;
  return undefined;
}

const patterns = new Map<string, RegExp>();

function wildcard(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    const body = pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    regex = new RegExp(`^${body}$`, 's');
    patterns.set(pattern, regex);
  }
  return regex;
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
