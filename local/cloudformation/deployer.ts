import type { Log } from '../../lib/log.ts';
import { PROVISIONERS, type ProvisionContext, type ProvisionedValues } from './provisioners.ts';
import { type ResourceChange, type Stack, type StackResource, StackStatus } from './stack.ts';
import {
  creationOrder,
  type EvaluationScope,
  evaluate,
  evaluateConditions,
  type Template,
  type TemplateResource,
} from './template.ts';

export interface DeployerOptions {
  readonly region: string;
  readonly accountId: string;
  readonly context: (stack: Stack) => ProvisionContext;
  readonly log: Log;
}

/** Why a resource operation failed, as its stack event says. */
class ResourceFailure extends Error {
  override readonly name = 'ResourceFailure';
  constructor(
    readonly logicalId: string,
    reason: string,
  ) {
    super(reason);
  }
}

const NOT_EMULATED_REASON = 'Recorded only: the embedded stack has no local behaviour for this resource type';

/**
 * Carries out a stack's create, update and delete as CloudFormation does: resources in
 * dependency order (deletes in reverse), an event for each step, and on a failure the
 * failing resource's reason and a rollback (ROLLBACK_COMPLETE after a failed create,
 * UPDATE_ROLLBACK_COMPLETE after a failed update, the old resources restored).
 */
export class Deployer {
  constructor(private readonly options: DeployerOptions) {}

  /** Resources the template adds, changes and drops compared with what the stack has. */
  changesOf(stack: Stack, template: Template, parameters: Record<string, string>): ResourceChange[] {
    const wanted = this.wantedResources(stack, template, parameters);
    const changes: ResourceChange[] = [];
    for (const [id, resource] of Object.entries(wanted)) {
      const existing = stack.resources.get(id);
      if (!existing) changes.push({ Action: 'Add', LogicalResourceId: id, ResourceType: resource.Type });
      else if (
        existing.type !== resource.Type ||
        JSON.stringify(stack.template.Resources[id]) !== JSON.stringify(resource)
      )
        changes.push({
          Action: 'Modify',
          LogicalResourceId: id,
          ResourceType: resource.Type,
          PhysicalResourceId: existing.values.physicalId,
        });
    }
    for (const [id, existing] of stack.resources) {
      if (!(id in wanted))
        changes.push({
          Action: 'Remove',
          LogicalResourceId: id,
          ResourceType: existing.type,
          PhysicalResourceId: existing.values.physicalId,
        });
    }
    return changes;
  }

  /** Create (a new stack) or update it to `template`; resolves when the stack is settled. */
  async deploy(
    stack: Stack,
    kind: 'CREATE' | 'UPDATE',
    template: Template,
    templateBody: string,
    parameters: Record<string, string>,
  ): Promise<void> {
    const creating = kind === 'CREATE';
    const before = {
      template: stack.template,
      templateBody: stack.templateBody,
      parameters: stack.parameters,
      resources: new Map(stack.resources),
    };
    stack.setStatus(
      creating ? StackStatus.CREATE_IN_PROGRESS : StackStatus.UPDATE_IN_PROGRESS,
      'User Initiated',
    );
    if (!creating) stack.lastUpdatedTime = new Date();
    const context = this.options.context(stack);
    try {
      const scope = this.scope(stack, template, parameters);
      const wanted = this.wantedResources(stack, template, parameters);
      for (const id of creationOrder(wanted))
        await this.apply(stack, id, wanted[id] as TemplateResource, scope, context);
      stack.outputs = this.outputsOf(template, scope);
    } catch (error) {
      const failed = error instanceof ResourceFailure ? error.logicalId : undefined;
      const reason = failed
        ? `The following resource(s) failed to ${creating ? 'create' : 'update'}: [${failed}]. `
        : `${(error as Error).message}. `;
      if (!(error instanceof ResourceFailure))
        this.options.log.warn('cloudformation: deploy failed', { stack: stack.stackName, error });
      const rolledBack = `${reason}Rollback requested by user.`;
      if (creating) {
        stack.setStatus(StackStatus.ROLLBACK_IN_PROGRESS, rolledBack);
        await this.deleteAll(stack, context, 'rollback');
        stack.setStatus(StackStatus.ROLLBACK_COMPLETE);
        // The stack keeps saying why it was rolled back (DescribeStacks' StackStatusReason).
        stack.statusReason = rolledBack;
      } else {
        stack.setStatus(StackStatus.UPDATE_ROLLBACK_IN_PROGRESS, rolledBack);
        await this.rollBackUpdate(stack, before, context);
        stack.setStatus(StackStatus.UPDATE_ROLLBACK_COMPLETE);
        stack.statusReason = rolledBack;
      }
      return;
    }
    stack.template = template;
    stack.templateBody = templateBody;
    stack.parameters = parameters;
    if (!creating) {
      stack.setStatus(StackStatus.UPDATE_COMPLETE_CLEANUP_IN_PROGRESS);
      const gone = [...before.resources.keys()].filter(
        (id) => !(id in this.wantedResources(stack, template, parameters)),
      );
      await this.deleteResources(
        stack,
        orderedForDeletion(before.template, gone),
        context,
        'cleanup',
        before.template,
      );
    }
    stack.setStatus(creating ? StackStatus.CREATE_COMPLETE : StackStatus.UPDATE_COMPLETE);
  }

  /** DeleteStack: every resource in reverse dependency order; DELETE_FAILED names what could not go. */
  async delete(stack: Stack): Promise<void> {
    stack.setStatus(StackStatus.DELETE_IN_PROGRESS, 'User Initiated');
    const failed = await this.deleteAll(stack, this.options.context(stack), 'delete');
    if (failed.length > 0) {
      stack.setStatus(
        StackStatus.DELETE_FAILED,
        `The following resource(s) failed to delete: [${failed.join(', ')}]. `,
      );
      return;
    }
    stack.deletionTime = new Date();
    stack.setStatus(StackStatus.DELETE_COMPLETE);
  }

  private async apply(
    stack: Stack,
    id: string,
    resource: TemplateResource,
    scope: EvaluationScope,
    context: ProvisionContext,
  ): Promise<void> {
    const provisioner = PROVISIONERS[resource.Type];
    const existing = stack.resources.get(id);
    const fail = (status: string, reason: string) => {
      stack.event(id, existing?.values.physicalId ?? '', resource.Type, status, reason);
      return new ResourceFailure(id, reason);
    };
    if (!provisioner)
      throw fail('CREATE_FAILED', `Resource type ${resource.Type} is not supported by the embedded stack`);
    let properties: Record<string, unknown>;
    try {
      properties = (evaluate(resource.Properties ?? {}, scope, `${id}.Properties`) ?? {}) as Record<
        string,
        unknown
      >;
    } catch (error) {
      throw fail(`${existing ? 'UPDATE' : 'CREATE'}_FAILED`, (error as Error).message);
    }
    if (
      existing &&
      existing.type === resource.Type &&
      JSON.stringify(existing.properties) === JSON.stringify(properties)
    )
      return;
    const verb = existing ? 'UPDATE' : 'CREATE';
    stack.event(id, existing?.values.physicalId ?? '', resource.Type, `${verb}_IN_PROGRESS`);
    let values: ProvisionedValues;
    try {
      if (!existing) values = await provisioner.create(id, properties, context);
      else if (existing.type === resource.Type && provisioner.update)
        values = await provisioner.update(id, properties, existing.values, context);
      else {
        values = await provisioner.create(id, properties, context);
        await (PROVISIONERS[existing.type] ?? provisioner).delete(existing.values, context);
      }
    } catch (error) {
      throw fail(`${verb}_FAILED`, reasonOf(error));
    }
    const status = `${verb}_COMPLETE`;
    const reason = provisioner.emulated ? undefined : NOT_EMULATED_REASON;
    stack.resources.set(id, {
      logicalId: id,
      type: resource.Type,
      values,
      properties,
      status,
      ...(reason && { reason }),
      timestamp: new Date(),
    });
    stack.event(id, values.physicalId, resource.Type, status, reason);
  }

  /** Put an update's resources back as they were: new ones deleted, changed ones re-applied. */
  private async rollBackUpdate(
    stack: Stack,
    before: { template: Template; parameters: Record<string, string>; resources: Map<string, StackResource> },
    context: ProvisionContext,
  ): Promise<void> {
    const added = [...stack.resources.keys()].filter((id) => !before.resources.has(id));
    for (const [id, previous] of before.resources) {
      const now = stack.resources.get(id);
      if (
        now &&
        now.values === previous.values &&
        JSON.stringify(now.properties) === JSON.stringify(previous.properties)
      )
        continue;
      const provisioner = PROVISIONERS[previous.type];
      if (!provisioner || !now) continue;
      stack.event(id, previous.values.physicalId, previous.type, 'UPDATE_IN_PROGRESS');
      try {
        const values = provisioner.update
          ? await provisioner.update(id, previous.properties, now.values, context)
          : previous.values;
        stack.resources.set(id, { ...previous, values, status: 'UPDATE_COMPLETE', timestamp: new Date() });
        stack.event(id, values.physicalId, previous.type, 'UPDATE_COMPLETE');
      } catch (error) {
        stack.event(id, previous.values.physicalId, previous.type, 'UPDATE_FAILED', reasonOf(error));
      }
    }
    stack.setStatus(StackStatus.UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS);
    await this.deleteResources(stack, added.reverse(), context, 'rollback');
  }

  /** Delete every resource of the stack, in reverse dependency order; the ids that failed. */
  private async deleteAll(
    stack: Stack,
    context: ProvisionContext,
    why: 'delete' | 'rollback',
  ): Promise<string[]> {
    const ids = [...stack.resources.keys()];
    const merged = { ...stack.template.Resources } as Record<string, TemplateResource>;
    for (const id of ids) merged[id] ??= { Type: (stack.resources.get(id) as StackResource).type };
    return this.deleteResources(stack, orderedForDeletion({ Resources: merged }, ids), context, why);
  }

  /** Delete these resources in this order; a DeletionPolicy Retain (in `policies`' template) keeps one. */
  private async deleteResources(
    stack: Stack,
    ids: readonly string[],
    context: ProvisionContext,
    why: 'delete' | 'rollback' | 'cleanup',
    policies: Pick<Template, 'Resources'> = stack.template,
  ): Promise<string[]> {
    const failed: string[] = [];
    for (const id of ids) {
      const resource = stack.resources.get(id);
      if (!resource) continue;
      if (why !== 'rollback' && policies.Resources[id]?.DeletionPolicy === 'Retain') {
        stack.resources.delete(id);
        stack.event(id, resource.values.physicalId, resource.type, 'DELETE_SKIPPED');
        continue;
      }
      stack.event(id, resource.values.physicalId, resource.type, 'DELETE_IN_PROGRESS');
      try {
        await PROVISIONERS[resource.type]?.delete(resource.values, context);
        stack.resources.delete(id);
        stack.event(id, resource.values.physicalId, resource.type, 'DELETE_COMPLETE');
      } catch (error) {
        failed.push(id);
        stack.event(id, resource.values.physicalId, resource.type, 'DELETE_FAILED', reasonOf(error));
      }
    }
    return failed;
  }

  /** The template's resources whose Condition holds. */
  private wantedResources(
    stack: Stack,
    template: Template,
    parameters: Record<string, string>,
  ): Record<string, TemplateResource> {
    const conditions = evaluateConditions(template, this.baseScope(stack, parameters));
    return Object.fromEntries(
      Object.entries(template.Resources).filter(
        ([, r]) => r.Condition === undefined || conditions.get(r.Condition) === true,
      ),
    );
  }

  private baseScope(stack: Stack, parameters: Record<string, string>): Omit<EvaluationScope, 'condition'> {
    return {
      pseudo: {
        'AWS::Region': this.options.region,
        'AWS::AccountId': this.options.accountId,
        'AWS::Partition': 'aws',
        'AWS::URLSuffix': 'amazonaws.com',
        'AWS::StackName': stack.stackName,
        'AWS::StackId': stack.stackId,
      },
      parameters,
      resource: (id) => stack.resources.get(id)?.values,
    };
  }

  private scope(stack: Stack, template: Template, parameters: Record<string, string>): EvaluationScope {
    const base = this.baseScope(stack, parameters);
    const conditions = evaluateConditions(template, base);
    return {
      ...base,
      condition: (name) => {
        const value = conditions.get(name);
        if (value === undefined)
          throw new ResourceFailure(
            name,
            `Template error: unresolved condition dependency ${name} in Fn::If`,
          );
        return value;
      },
    };
  }

  private outputsOf(template: Template, scope: EvaluationScope): Stack['outputs'] {
    return Object.entries(template.Outputs ?? {})
      .filter(([, output]) => output.Condition === undefined || scope.condition(output.Condition))
      .map(([key, output]) => ({
        OutputKey: key,
        OutputValue: String(evaluate(output.Value, scope, `Outputs.${key}`)),
        ...(output.Description !== undefined && { Description: output.Description }),
      }));
  }
}

/** The ids in reverse creation order of `template` (ids it no longer has go first). */
function orderedForDeletion(template: Pick<Template, 'Resources'>, ids: readonly string[]): string[] {
  const known = Object.fromEntries(Object.entries(template.Resources).filter(([id]) => ids.includes(id)));
  const order = creationOrder(known).reverse();
  return [...ids.filter((id) => !order.includes(id)), ...order];
}

function reasonOf(error: unknown): string {
  const e = error as Error;
  return e.name && e.name !== 'Error' && e.name !== 'ProvisionError' ? `${e.name}: ${e.message}` : e.message;
}
