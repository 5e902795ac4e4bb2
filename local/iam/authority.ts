import { randomBytes } from 'node:crypto';
import { LocalStackError } from '../../lib/errors.ts';
import {
  type AccessRequest,
  type Decision,
  evaluate,
  type PolicyStatement,
  type SourcedStatement,
} from './policy.ts';
import { type Role, trusts } from './roles.ts';

/** Who signs a request: a role session (a function, the state machine, a task) or the stack's own admin. */
export interface Principal {
  /** How the usage report names it: the function name, `RunStateMachine`, `ecs-task`, ... */
  readonly name: string;
  readonly role: Role;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as AWS names the caller in a denial. */
  readonly arn: string;
}

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** One use of a granted permission, or one denial, for the usage report. */
export interface UsageEntry {
  readonly principal: string;
  readonly role: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  /** The statement that allowed it, or undefined for a denial. */
  readonly statement?: string;
}

/** An AWS-shaped denial: the gateway turns it into each protocol's AccessDenied response. */
export class AccessDenied {
  constructor(
    readonly principal: Principal,
    readonly check: AccessRequest,
    readonly decision: Exclude<Decision, { allowed: true }>,
  ) {}

  get message(): string {
    const why =
      this.decision.reason === 'explicit-deny'
        ? 'with an explicit deny in an identity-based policy'
        : `because no identity-based policy allows the ${this.check.action} action`;
    return `User: ${this.principal.arn} is not authorized to perform: ${this.check.action} on resource: ${this.check.resource} ${why}`;
  }
}

/**
 * IAM for the embedded stack: issues each principal its own access key (the function's
 * clients sign with it, as a Lambda signs with its execution role's session), maps a
 * request's access key back to its principal, and evaluates the role's statements for
 * each check. The stack's admin key (provisioning, the CLI, tests) is not restricted.
 * Every decision is recorded, so the suite can compare what was used with what is granted.
 */
export class IamAuthority {
  private readonly principals = new Map<string, Principal>();
  /** Resource-based policies (bucket policies), by the ARN prefix they govern. */
  private readonly resourcePolicies: { prefix: string; statements: readonly SourcedStatement[] }[] = [];
  private readonly used = new Map<string, UsageEntry & { count: number }>();
  private readonly denials: UsageEntry[] = [];

  constructor(
    readonly accountId: string,
    private readonly adminAccessKeyId: string,
  ) {}

  /** A session of `role` named `name`, assumed by `service` (its trust policy must let it), and its credentials. */
  issue(name: string, role: Role, service: string): { principal: Principal; credentials: Credentials } {
    if (!trusts(role, service))
      throw new LocalStackError(
        `${role.logicalId}'s trust policy does not let ${service} assume it, so ${name} could not run as it on AWS`,
      );
    const arn = `arn:aws:sts::${this.accountId}:assumed-role/${role.name}/${name}`;
    // ASIA: a temporary (session) key, as STS issues for an assumed role.
    return this.register({ name, role, arn }, 'ASIA');
  }

  /**
   * An IAM user with these statements (the CLI user docs/deploy.md describes), and its
   * access key. A user is named in denials by its own ARN.
   */
  issueUser(
    name: string,
    statements: readonly SourcedStatement[],
  ): { principal: Principal; credentials: Credentials } {
    const arn = `arn:aws:iam::${this.accountId}:user/${name}`;
    const role = { logicalId: name, name, arn, trust: [], statements };
    // AKIA: a long-term user key.
    return this.register({ name, role, arn }, 'AKIA');
  }

  private register(
    principal: Principal,
    keyPrefix: 'ASIA' | 'AKIA',
  ): { principal: Principal; credentials: Credentials } {
    const accessKeyId = `${keyPrefix}${randomBytes(8).toString('hex').toUpperCase()}`;
    this.principals.set(accessKeyId, principal);
    return { principal, credentials: { accessKeyId, secretAccessKey: randomBytes(20).toString('base64') } };
  }

  /** The principal behind an access key; `admin` for the stack's own key; undefined if unknown. */
  principalOf(accessKeyId: string): Principal | 'admin' | undefined {
    if (accessKeyId === this.adminAccessKeyId) return 'admin';
    return this.principals.get(accessKeyId);
  }

  /**
   * Attach a resource-based policy (a bucket policy) to every resource under `arn`. Its
   * statements are evaluated with the caller's: its Deny refuses, its Allow for the caller allows.
   */
  addResourcePolicy(arn: string, statements: readonly SourcedStatement[]): void {
    this.resourcePolicies.push({ prefix: arn, statements });
  }

  /** Detach the resource-based policy attached to `arn` (its bucket policy was deleted). */
  removeResourcePolicy(arn: string): void {
    const at = this.resourcePolicies.findIndex(({ prefix }) => prefix === arn);
    if (at >= 0) this.resourcePolicies.splice(at, 1);
  }

  /** Evaluate each check in order; the first denial is returned (and recorded), else undefined. */
  authorize(
    principal: Principal,
    operation: string,
    checks: readonly AccessRequest[],
  ): AccessDenied | undefined {
    for (const check of checks) {
      // Most resources have no resource policy: the role's statements alone, not a copy.
      const resource = this.resourceStatements(principal, check);
      const decision = evaluate(
        resource.length === 0 ? principal.role.statements : [...principal.role.statements, ...resource],
        check,
      );
      const entry = {
        principal: principal.name,
        role: principal.role.logicalId,
        operation,
        action: check.action,
        resource: check.resource,
      };
      if (!decision.allowed) {
        this.denials.push(entry);
        return new AccessDenied(principal, check, decision);
      }
      const key = [principal.name, operation, check.action, check.resource, decision.by.source].join(
        '\u0000',
      );
      const seen = this.used.get(key);
      if (seen) seen.count++;
      else this.used.set(key, { ...entry, statement: decision.by.source, count: 1 });
    }
    return undefined;
  }

  private resourceStatements(principal: Principal, check: AccessRequest): readonly SourcedStatement[] {
    if (this.resourcePolicies.length === 0) return [];
    return this.resourcePolicies
      .filter(({ prefix }) => check.resource === prefix || check.resource.startsWith(`${prefix}/`))
      .flatMap(({ statements }) => statements)
      .filter(({ statement }) => namesPrincipal(statement, principal));
  }

  /** What was allowed (with the statement that allowed it and how often) and what was denied. */
  usage(): { allowed: (UsageEntry & { count: number })[]; denied: UsageEntry[] } {
    return { allowed: [...this.used.values()].map((entry) => ({ ...entry })), denied: [...this.denials] };
  }
}

/** Does a resource policy's statement speak to this caller (`*`, or its role or session ARN)? */
function namesPrincipal(statement: PolicyStatement, principal: Principal): boolean {
  const named = statement.Principal;
  if (named === '*') return true;
  const aws = (named as { AWS?: string | string[] } | undefined)?.AWS;
  const arns = aws === undefined ? [] : ([] as string[]).concat(aws);
  return arns.some((arn) => arn === '*' || arn === principal.role.arn || arn === principal.arn);
}
