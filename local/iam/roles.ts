import { LocalStackError } from '../../lib/errors.ts';
import { type ProvisionedResource, type ResourceMap, resolveIntrinsics } from '../resources.ts';
import type { CfnResource, ServerlessModel } from '../serverlessModel.ts';
import { checkStatement, type PolicyStatement, type SourcedStatement } from './policy.ts';

/** A role as deployed: its name, ARN, trust policy and every statement attached to it. */
export interface Role {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** Who may assume it (the AssumeRolePolicyDocument's statements). */
  readonly trust: readonly PolicyStatement[];
  readonly statements: readonly SourcedStatement[];
}

export interface Account {
  readonly region: string;
  readonly accountId: string;
}

type Doc = Record<string, unknown>;

/**
 * The roles serverless.yml deploys, read as IAM would see them after the deploy:
 * inline `Policies` of each AWS::IAM::Role and every AWS::IAM::Policy naming it in
 * `Roles`, with their intrinsics resolved to the ARNs the embedded stack uses.
 * Resources the stack does not emulate (log groups, the functions themselves, the
 * ECS cluster and task definition, the state machine) get the names and ARNs
 * CloudFormation and the Serverless Framework would give them, so a statement
 * scoped to them reads as deployed.
 */
export function loadRoles(
  model: ServerlessModel,
  provisioned: ResourceMap,
  account: Account,
  extraResources: Readonly<Record<string, CfnResource>> = {},
): Map<string, Role> {
  const all: Record<string, CfnResource> = { ...model.resources, ...extraResources };
  const resources = declaredResources(model, all, provisioned, account);
  const roles = new Map<string, Role>();
  for (const [logicalId, resource] of Object.entries(all)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const props = (resource.Properties ?? {}) as Doc;
    if (props.ManagedPolicyArns !== undefined)
      throw new LocalStackError(
        `${logicalId}: ManagedPolicyArns are not evaluated by the embedded stack; write the statements inline`,
      );
    const statements: SourcedStatement[] = [];
    for (const [i, policy] of ((props.Policies ?? []) as Doc[]).entries()) {
      statements.push(
        ...statementsOf(policy.PolicyDocument, `${logicalId}/${String(policy.PolicyName ?? i)}`, resources),
      );
    }
    const own = resources.get(logicalId) as ProvisionedResource;
    roles.set(logicalId, {
      logicalId,
      name: own.ref,
      arn: own.attributes.Arn as string,
      trust: statementsOf(props.AssumeRolePolicyDocument, `${logicalId}/trust`, resources, false).map(
        (s) => s.statement,
      ),
      statements,
    });
  }
  for (const [logicalId, resource] of Object.entries(all)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const props = (resource.Properties ?? {}) as Doc;
    const attached = statementsOf(
      props.PolicyDocument,
      `${logicalId}/${String(props.PolicyName ?? '')}`,
      resources,
    );
    for (const target of (props.Roles ?? []) as unknown[]) {
      const id = roleIdOf(target, `${logicalId}.Properties.Roles`);
      const role = roles.get(id);
      if (!role)
        throw new LocalStackError(`${logicalId}: Roles names ${id}, which is not a role of serverless.yml`);
      roles.set(id, { ...role, statements: [...role.statements, ...attached] });
    }
  }
  return roles;
}

/** The bucket policies of serverless.yml: each bucket's ARN and its statements, resolved. */
export function loadBucketPolicies(
  model: ServerlessModel,
  provisioned: ResourceMap,
  account: Account,
): { arn: string; statements: SourcedStatement[] }[] {
  const resources = declaredResources(model, model.resources, provisioned, account);
  return Object.entries(model.resources)
    .filter(([, resource]) => resource.Type === 'AWS::S3::BucketPolicy')
    .map(([logicalId, resource]) => {
      const props = (resource.Properties ?? {}) as Doc;
      const bucket = String(resolveIntrinsics(props.Bucket, resources, `${logicalId}.Properties.Bucket`));
      return {
        arn: `arn:aws:s3:::${bucket}`,
        statements: statementsOf(props.PolicyDocument, logicalId, resources),
      };
    });
}

/** The role's logical id from `Ref: X`, `Fn::GetAtt: [X, Arn]` or a bare logical id. */
export function roleIdOf(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  const object = (value ?? {}) as Doc;
  if (typeof object.Ref === 'string') return object.Ref;
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') return String(getAtt[0]);
  throw new LocalStackError(`${where}: ${JSON.stringify(value)} does not name a role of serverless.yml`);
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

function statementsOf(
  document: unknown,
  source: string,
  resources: ResourceMap,
  check = true,
): SourcedStatement[] {
  const doc = (document ?? {}) as Doc;
  const raw = doc.Statement;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Doc[];
  return list.map((statement, i) => {
    const where = `${source}#${String(statement.Sid ?? i)}`;
    const sourced = {
      statement: resolveIntrinsics(statement, resources, where) as PolicyStatement,
      source: where,
    };
    if (check) checkStatement(sourced);
    return sourced;
  });
}

/** Provisioned resources plus what the deployed names of the others would be. */
function declaredResources(
  model: ServerlessModel,
  all: Readonly<Record<string, CfnResource>>,
  provisioned: ResourceMap,
  { region, accountId }: Account,
): ResourceMap {
  const map: ResourceMap = new Map(provisioned);
  const prefix = `${model.service}-${model.stage}`;
  const set = (id: string, type: string, ref: string, attributes: Record<string, string>) => {
    if (!map.has(id)) map.set(id, { type, ref, attributes });
  };
  // What the Serverless Framework adds to the template for each function and the state machine.
  for (const spec of Object.values(model.functions)) {
    const cap = spec.name.charAt(0).toUpperCase() + spec.name.slice(1);
    const functionName = `${prefix}-${spec.name}`;
    const logGroup = `/aws/lambda/${functionName}`;
    set(`${cap}LambdaFunction`, 'AWS::Lambda::Function', functionName, {
      Arn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
    });
    set(`${cap}LogGroup`, 'AWS::Logs::LogGroup', logGroup, {
      Arn: `arn:aws:logs:${region}:${accountId}:log-group:${logGroup}:*`,
    });
  }
  const machineArn = `arn:aws:states:${region}:${accountId}:stateMachine:${model.stateMachineName}`;
  set(model.stateMachineLogicalId, 'AWS::StepFunctions::StateMachine', machineArn, {
    Name: model.stateMachineName,
  });

  for (const [id, resource] of Object.entries(all)) {
    const props = (resource.Properties ?? {}) as Doc;
    const named = (key: string, fallback: string) =>
      typeof props[key] === 'string' ? String(props[key]) : fallback;
    switch (resource.Type) {
      case 'AWS::IAM::Role': {
        const name = named('RoleName', `${prefix}-${id}`);
        set(id, resource.Type, name, { Arn: `arn:aws:iam::${accountId}:role/${name}`, RoleId: name });
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName', `${prefix}-${id}`);
        set(id, resource.Type, name, { Arn: `arn:aws:logs:${region}:${accountId}:log-group:${name}:*` });
        break;
      }
      case 'AWS::ECS::Cluster': {
        const name = named('ClusterName', `${prefix}-${id}`);
        set(id, resource.Type, name, { Arn: `arn:aws:ecs:${region}:${accountId}:cluster/${name}` });
        break;
      }
      case 'AWS::ECS::TaskDefinition': {
        const family = named('Family', `${prefix}-${id}`);
        set(id, resource.Type, `arn:aws:ecs:${region}:${accountId}:task-definition/${family}:1`, {});
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = named('TopicName', `${prefix}-${id}`);
        set(id, resource.Type, `arn:aws:sns:${region}:${accountId}:${name}`, { TopicName: name });
        break;
      }
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName', `${prefix}-${id}`);
        set(id, resource.Type, name, { Arn: `arn:aws:lambda:${region}:${accountId}:function:${name}` });
        break;
      }
    }
  }
  return map;
}
