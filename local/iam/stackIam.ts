import { createRequire } from 'node:module';
import { join } from 'node:path';
import { LocalStackError } from '../../lib/errors.ts';
import type { Schedule } from '../../lib/job/schedule.ts';
import type { ResourceMap } from '../resources.ts';
import { type CfnResource, loadServerlessModel, type ServerlessModel } from '../serverlessModel.ts';
import type { Credentials, IamAuthority, Principal } from './authority.ts';
import type { TaskDefinitionRoles } from './requestActions.ts';
import { loadBucketPolicies, loadRoles, type Role, roleIdOf } from './roles.ts';

export interface StackIamOptions {
  readonly root: string;
  /** The serverless.yml the stack provisions from (default `<root>/serverless.yml`). */
  readonly serverlessFile?: string;
  readonly stage: string;
  readonly region: string;
  readonly accountId: string;
  /** The authority the stack's gateway asks; sessions are issued into it. */
  readonly authority: IamAuthority;
  readonly resources: ResourceMap;
  /** The registry's schedules: their role comes from statemachines/schedules.cjs, as deployed. */
  readonly schedules: readonly Schedule[];
  /** Replaces statements of a role before evaluation (tests take a permission away with it). */
  readonly editRole?: (role: Role) => Role;
}

export interface Session {
  readonly principal: Principal;
  readonly credentials: Credentials;
}

/**
 * The roles of serverless.yml and the sessions the embedded stack's principals sign
 * with: each function as its `role`, the state machine as its `role`, the ECS task as
 * its task definition's TaskRoleArn, the schedules as the scheduler role. The template
 * is read with EcsEnabled taken as true, since the embedded stack runs ECS steps
 * whatever the stage says, so it grants what an ECS-enabled stage grants.
 */
export class StackIam {
  readonly authority: IamAuthority;
  readonly roles: ReadonlyMap<string, Role>;
  private readonly model: ServerlessModel;

  constructor(options: StackIamOptions) {
    this.model = loadServerlessModel(options.serverlessFile ?? join(options.root, 'serverless.yml'), {
      stage: options.stage,
      region: options.region,
      conditionOverrides: { EcsEnabled: true },
    });
    const loaded = loadRoles(
      this.model,
      options.resources,
      { region: options.region, accountId: options.accountId },
      scheduleResources(options.root, options.schedules, this.model),
    );
    const edit = options.editRole;
    this.roles = edit ? new Map([...loaded].map(([id, role]) => [id, edit(role)])) : loaded;
    this.authority = options.authority;
    const account = { region: options.region, accountId: options.accountId };
    for (const { arn, statements } of loadBucketPolicies(this.model, options.resources, account)) {
      this.authority.addResourcePolicy(arn, statements);
    }
  }

  /** A Lambda function's session, as its `role` in serverless.yml. */
  functionSession(functionName: string, specName: string): Session {
    const spec = this.model.functions[specName];
    if (!spec) throw new LocalStackError(`serverless.yml has no function ${specName}`);
    return this.session(functionName, spec.role, 'lambda.amazonaws.com', `functions.${specName}.role`);
  }

  /** The run state machine's session, as its `role`. */
  stateMachineSession(): Session {
    return this.session(
      this.model.stateMachineLogicalId,
      this.model.stateMachineRole,
      'states.amazonaws.com',
      'stepFunctions.stateMachines.run.role',
    );
  }

  /** The step task's session, as the task definition's TaskRoleArn; undefined if none is declared. */
  ecsTaskSession(): Session | undefined {
    const definition = this.taskDefinition();
    if (!definition?.TaskRoleArn) return undefined;
    return this.session(
      'ecs-task',
      definition.TaskRoleArn,
      'ecs-tasks.amazonaws.com',
      'StepTaskDefinition.TaskRoleArn',
    );
  }

  /** The schedules' session, if this stage deploys any. */
  schedulerSession(): Session | undefined {
    if (!this.roles.has('RunSchedulerRole')) return undefined;
    return this.session('scheduler', 'RunSchedulerRole', 'scheduler.amazonaws.com', 'RunSchedulerRole');
  }

  /** The roles RunTask passes: those of every task definition of serverless.yml. */
  readonly taskDefinitionRoles: TaskDefinitionRoles = () => {
    const definition = this.taskDefinition();
    if (!definition) return [];
    return [definition.TaskRoleArn, definition.ExecutionRoleArn]
      .filter((value) => value !== undefined)
      .map((value) => this.role(value, 'StepTaskDefinition').arn);
  };

  /** Ask a principal's role; the denial's message, or undefined when allowed. */
  check(principal: Principal, operation: string, action: string, resource: string): string | undefined {
    return this.authority.authorize(principal, operation, [{ action, resource }])?.message;
  }

  private session(name: string, roleRef: unknown, service: string, where: string): Session {
    return this.authority.issue(name, this.role(roleRef, where), service);
  }

  private role(ref: unknown, where: string): Role {
    const id = roleIdOf(ref, where);
    const role = this.roles.get(id);
    if (!role) throw new LocalStackError(`${where}: ${id} is not a role of serverless.yml`);
    return role;
  }

  private taskDefinition(): { TaskRoleArn?: unknown; ExecutionRoleArn?: unknown } | undefined {
    const found = Object.values(this.model.resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
    return found?.Properties as { TaskRoleArn?: unknown; ExecutionRoleArn?: unknown } | undefined;
  }
}

/** The scheduler's resources as serverless.yml's `${file(statemachines/schedules.cjs):resources}` makes them. */
function scheduleResources(
  root: string,
  schedules: readonly Schedule[],
  model: ServerlessModel,
): Record<string, CfnResource> {
  const generator = createRequire(import.meta.url)(join(root, 'statemachines/schedules.cjs')) as {
    scheduleResources: (
      schedules: readonly unknown[],
      names: { service: string; stage: string },
    ) => { Resources: Record<string, CfnResource> };
  };
  const plain = schedules.map(({ parsed: _parsed, ...schedule }) => schedule);
  return generator.scheduleResources(plain, { service: model.service, stage: model.stage }).Resources;
}
