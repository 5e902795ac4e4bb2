import type { PolicyStatement, SourcedStatement } from './policy.ts';

/** A role as deployed: its name, ARN, trust policy and every statement attached to it. */
export interface Role {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Who may assume it (the AssumeRolePolicyDocument's statements). */
  readonly trust: readonly PolicyStatement[];
  readonly statements: readonly SourcedStatement[];
}

/** Does the trust policy let this service assume the role? */
export function trusts(role: Role, service: string): boolean {
  return role.trust.some((statement) => {
    if (statement.Effect !== 'Allow') return false;
    const principal = (statement as { Principal?: { Service?: string | string[] } }).Principal;
    const services = principal?.Service;
    return (Array.isArray(services) ? services : [services]).includes(service);
  });
}
