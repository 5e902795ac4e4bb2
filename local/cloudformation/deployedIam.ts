import type { Credentials, IamAuthority, Principal } from '../iam/authority.ts';
import { checkStatement, type PolicyStatement, type SourcedStatement } from '../iam/policy.ts';
import type { Role } from '../iam/roles.ts';
import { QueryApiError } from './queryProtocol.ts';

interface RoleState {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly trust: readonly PolicyStatement[];
  readonly inline: readonly SourcedStatement[];
}

/**
 * The IAM of deployed stacks: the roles and policies their templates create, as the IAM
 * gateway enforces them (local/iam/). A role's statements are read live, so a policy
 * attached or detached by a later resource applies to the sessions already issued, as in IAM.
 */
export class DeployedIam {
  private readonly roleStates = new Map<string, RoleState>();
  /** What everEnforced() reports: each role's statements by source, as ever granted. */
  private readonly history = new Map<
    string,
    { logicalId: string; arn: string; statements: Map<string, SourcedStatement> }
  >();
  /** Each AWS::IAM::Policy: the roles it is attached to and its statements. */
  private readonly policies = new Map<
    string,
    { roles: readonly string[]; statements: readonly SourcedStatement[] }
  >();

  constructor(
    readonly authority: IamAuthority,
    private readonly accountId: string,
    /** Changes a role as its sessions see it (tests take a permission away). */
    private readonly editRole: (role: Role) => Role = (role) => role,
  ) {}

  /**
   * Every role this account has enforced, with every statement it held at some point (deleted
   * roles too: `sls remove` runs before the IAM-usage report is written).
   */
  everEnforced(): Role[] {
    return [...this.history.entries()].map(([name, { logicalId, arn, statements }]) =>
      this.editRole({ logicalId, name, arn, trust: [], statements: [...statements.values()] }),
    );
  }

  /** Every role as its sessions see it now: its statements, inline and attached. */
  roles(): Role[] {
    return [...this.roleStates.keys()].map((name) => this.editRole(this.liveRole(name)));
  }

  putRole(
    logicalId: string,
    name: string,
    trustDocument: unknown,
    policies: readonly { PolicyName?: unknown; PolicyDocument?: unknown }[],
  ): { arn: string } {
    const arn = `arn:aws:iam::${this.accountId}:role/${name}`;
    const inline = policies.flatMap((policy, i) =>
      statementsOf(policy.PolicyDocument, `${logicalId}/${String(policy.PolicyName ?? i)}`),
    );
    const trust = statementsOf(trustDocument, `${logicalId}/trust`, false).map((s) => s.statement);
    this.roleStates.set(name, { logicalId, name, arn, trust, inline });
    this.remember(name, inline);
    return { arn };
  }

  deleteRole(name: string): void {
    this.roleStates.delete(name);
  }

  putPolicy(
    id: string,
    logicalId: string,
    policyName: string,
    roleNames: readonly string[],
    document: unknown,
  ): void {
    for (const name of roleNames) {
      if (!this.roleStates.has(name))
        throw new QueryApiError('NoSuchEntity', `The role with name ${name} cannot be found.`);
    }
    const statements = statementsOf(document, `${logicalId}/${policyName}`);
    this.policies.set(id, { roles: roleNames, statements });
    for (const name of roleNames) this.remember(name, statements);
  }

  deletePolicy(id: string): void {
    this.policies.delete(id);
  }

  putBucketPolicy(bucket: string, logicalId: string, document: unknown): void {
    this.authority.removeResourcePolicy(bucketArn(bucket));
    this.authority.addResourcePolicy(bucketArn(bucket), statementsOf(document, logicalId));
  }

  deleteBucketPolicy(bucket: string): void {
    this.authority.removeResourcePolicy(bucketArn(bucket));
  }

  /** A session of the role with this ARN for `service` (a function, the state machine): its principal and key. */
  session(
    sessionName: string,
    roleArn: string,
    service: string,
  ): { principal: Principal; credentials: Credentials } {
    const name = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    if (!this.roleStates.has(name)) {
      throw new QueryApiError(
        'InvalidParameterValueException',
        `The role defined for the function cannot be assumed by Lambda: ${roleArn} does not exist`,
      );
    }
    return this.authority.issue(sessionName, this.editRole(this.liveRole(name)), service);
  }

  private remember(roleName: string, statements: readonly SourcedStatement[]): void {
    const state = this.roleStates.get(roleName) as RoleState;
    const seen = this.history.get(roleName) ?? {
      logicalId: state.logicalId,
      arn: state.arn,
      statements: new Map(),
    };
    for (const statement of statements) seen.statements.set(statement.source, statement);
    this.history.set(roleName, seen);
  }

  /** The role as the authority evaluates it: its inline statements and every policy attached now. */
  private liveRole(name: string): Role {
    const roles = this.roleStates;
    const policies = this.policies;
    const state = roles.get(name) as RoleState;
    return {
      logicalId: state.logicalId,
      name,
      arn: state.arn,
      trust: state.trust,
      get statements() {
        const current = roles.get(name);
        if (!current) return [];
        const attached = [...policies.values()]
          .filter((p) => p.roles.includes(name))
          .flatMap((p) => p.statements);
        return [...current.inline, ...attached];
      },
    };
  }
}

function bucketArn(bucket: string): string {
  return `arn:aws:s3:::${bucket}`;
}

/** A policy document's statements, checked as the gateway will read them. */
function statementsOf(document: unknown, source: string, check = true): SourcedStatement[] {
  const raw = (document ?? {}) as { Statement?: unknown };
  const list = (
    Array.isArray(raw.Statement) ? raw.Statement : raw.Statement ? [raw.Statement] : []
  ) as PolicyStatement[];
  return list.map((statement, i) => {
    const sourced = {
      statement: withTextConditions(statement),
      source: `${source}#${String(statement.Sid ?? i)}`,
    };
    if (check) {
      try {
        checkStatement(sourced);
      } catch (error) {
        throw new QueryApiError('MalformedPolicyDocument', (error as Error).message);
      }
    }
    return sourced;
  });
}

/** Condition values as IAM reads them: text (a template may write `false` for "false"). */
function withTextConditions(statement: PolicyStatement): PolicyStatement {
  if (!statement.Condition) return statement;
  const Condition = Object.fromEntries(
    Object.entries(statement.Condition).map(([operator, keys]) => [
      operator,
      Object.fromEntries(
        Object.entries(keys).map(([key, value]) => [
          key,
          Array.isArray(value) ? value.map(String) : String(value),
        ]),
      ),
    ]),
  );
  return { ...statement, Condition };
}
