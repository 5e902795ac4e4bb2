import { randomUUID } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Deployer } from './deployer.ts';
import { QueryApiError, type QueryOperation, type QueryParams, type XmlValue } from './queryProtocol.ts';
import { type ChangeSet, Stack, type StackResource, StackStatus } from './stack.ts';
import { creationOrder, parseTemplate, type Template } from './template.ts';

export interface CloudFormationOptions {
  readonly region: string;
  readonly accountId: string;
  readonly deployer: Deployer;
  /** The admin's S3 client: TemplateURL is read with it. */
  readonly s3: S3Client;
}

const NO_CHANGES =
  "The submitted information didn't contain changes. Submit different information to create a change set.";

/**
 * The CloudFormation API the Serverless Framework's deploy, info and remove call (with
 * change sets, its default, or directly), over the stacks this process holds. Operations
 * that change a stack return at once and run in the background; DescribeStackEvents and
 * DescribeStacks show their progress, as on AWS.
 */
export class CloudFormationApi {
  /** Every stack ever created, by id; deleted ones stay describable by id, as on AWS. */
  private readonly stacks = new Map<string, Stack>();

  constructor(private readonly options: CloudFormationOptions) {}

  /** The stacks not deleted (tests and the stack's status read them). */
  liveStacks(): Stack[] {
    return [...this.stacks.values()].filter((s) => s.status !== StackStatus.DELETE_COMPLETE);
  }

  /** Resolves when no stack operation is under way. */
  async settled(): Promise<void> {
    await Promise.all([...this.stacks.values()].map((s) => s.operation));
  }

  readonly operations: Readonly<Record<string, QueryOperation>> = {
    DescribeStacks: (p) => {
      const name = p.get('StackName');
      const stacks = name === undefined ? this.liveStacks() : [this.stack(name)];
      return { Stacks: stacks.map(describeStack) };
    },
    ValidateTemplate: async (p) => {
      const template = await this.templateOf(p);
      return { Parameters: [], Description: template.Description, Capabilities: [] };
    },
    GetTemplate: (p) => {
      const stack = this.stack(p.required('StackName'));
      const changeSet = p.get('ChangeSetName');
      const body = changeSet ? this.changeSet(stack, changeSet).templateBody : stack.templateBody;
      return { TemplateBody: body, StagesAvailable: ['Original', 'Processed'] };
    },
    CreateStack: async (p) => {
      const name = p.required('StackName');
      if (this.find(name))
        throw new QueryApiError('AlreadyExistsException', `Stack [${name}] already exists`);
      const template = await this.templateOf(p);
      const stack = this.newStack(name, StackStatus.CREATE_IN_PROGRESS, p);
      this.run(stack, () =>
        this.options.deployer.deploy(stack, 'CREATE', template, this.bodyOf(p, template), parametersOf(p)),
      );
      return { StackId: stack.stackId };
    },
    UpdateStack: async (p) => {
      const stack = this.updatable(p.required('StackName'));
      const template = await this.templateOf(p);
      if (this.options.deployer.changesOf(stack, template, parametersOf(p)).length === 0)
        throw new QueryApiError('ValidationError', 'No updates are to be performed.');
      this.run(stack, () =>
        this.options.deployer.deploy(stack, 'UPDATE', template, this.bodyOf(p, template), parametersOf(p)),
      );
      return { StackId: stack.stackId };
    },
    CreateChangeSet: async (p) => {
      const name = p.required('StackName');
      const type = (p.get('ChangeSetType') ?? 'UPDATE') as 'CREATE' | 'UPDATE';
      const template = await this.templateOf(p);
      let stack: Stack;
      if (type === 'CREATE') {
        const existing = this.find(name);
        if (existing && existing.status !== StackStatus.REVIEW_IN_PROGRESS)
          throw new QueryApiError(
            'ValidationError',
            `Stack [${name}] already exists and cannot be created again with the changeSet [${p.required('ChangeSetName')}].`,
          );
        stack = existing ?? this.newStack(name, StackStatus.REVIEW_IN_PROGRESS, p);
        if (!existing)
          stack.event(
            name,
            stack.stackId,
            'AWS::CloudFormation::Stack',
            StackStatus.REVIEW_IN_PROGRESS,
            'User Initiated',
          );
      } else {
        stack = this.updatable(name);
      }
      const parameters = parametersOf(p);
      const changes = this.options.deployer.changesOf(stack, template, parameters);
      const changeSet: ChangeSet = {
        id: `arn:aws:cloudformation:${this.options.region}:${this.options.accountId}:changeSet/${p.required('ChangeSetName')}/${randomUUID()}`,
        name: p.required('ChangeSetName'),
        type,
        templateBody: this.bodyOf(p, template),
        template,
        parameters,
        changes,
        creationTime: new Date(),
        ...(p.get('Description') !== undefined && { description: p.get('Description') }),
        status: changes.length === 0 && type === 'UPDATE' ? 'FAILED' : 'CREATE_COMPLETE',
        executionStatus: changes.length === 0 && type === 'UPDATE' ? 'UNAVAILABLE' : 'AVAILABLE',
        ...(changes.length === 0 && type === 'UPDATE' && { statusReason: NO_CHANGES }),
      };
      stack.changeSets.set(changeSet.name, changeSet);
      return { Id: changeSet.id, StackId: stack.stackId };
    },
    DescribeChangeSet: (p) => {
      const stack = this.stackOfChangeSet(p);
      const changeSet = this.changeSet(stack, p.required('ChangeSetName'));
      return {
        ChangeSetName: changeSet.name,
        ChangeSetId: changeSet.id,
        StackId: stack.stackId,
        StackName: stack.stackName,
        Description: changeSet.description,
        CreationTime: changeSet.creationTime,
        Status: changeSet.status,
        ExecutionStatus: changeSet.executionStatus,
        StatusReason: changeSet.statusReason,
        Capabilities: stack.capabilities,
        Changes: changeSet.changes.map((change) => ({
          Type: 'Resource',
          ResourceChange: { ...change, ...(change.Action === 'Modify' && { Replacement: 'Conditional' }) },
        })),
      };
    },
    ExecuteChangeSet: (p) => {
      const stack = this.stackOfChangeSet(p);
      const changeSet = this.changeSet(stack, p.required('ChangeSetName'));
      if (changeSet.executionStatus !== 'AVAILABLE')
        throw new QueryApiError(
          'InvalidChangeSetStatus',
          `ChangeSet [${changeSet.id}] cannot be executed in its current execution status of [${changeSet.executionStatus}]`,
        );
      if (stack.inProgress) throw inProgress(stack);
      changeSet.executionStatus = 'EXECUTE_IN_PROGRESS';
      // Executing one change set makes the stack's others obsolete, as on AWS.
      for (const other of stack.changeSets.keys())
        if (other !== changeSet.name) stack.changeSets.delete(other);
      this.run(stack, async () => {
        await this.options.deployer.deploy(
          stack,
          changeSet.type,
          changeSet.template,
          changeSet.templateBody,
          changeSet.parameters,
        );
        changeSet.executionStatus = 'EXECUTE_COMPLETE';
      });
      return {};
    },
    DeleteChangeSet: (p) => {
      const stack = this.stackOfChangeSet(p);
      // Deleting a change set that is not there (any more) succeeds: Serverless clears the last one so.
      const changeSet = [...stack.changeSets.values()].find((c) =>
        [c.name, c.id].includes(p.required('ChangeSetName')),
      );
      if (!changeSet) return {};
      if (changeSet.executionStatus === 'EXECUTE_IN_PROGRESS') throw inProgress(stack);
      stack.changeSets.delete(changeSet.name);
      // A stack created for a change set that is never executed goes with it.
      if (stack.status === StackStatus.REVIEW_IN_PROGRESS && stack.changeSets.size === 0) {
        stack.deletionTime = new Date();
        stack.status = StackStatus.DELETE_COMPLETE;
      }
      return {};
    },
    DeleteStack: (p) => {
      const stack = this.find(p.required('StackName'));
      if (!stack || stack.status === StackStatus.DELETE_IN_PROGRESS) return {};
      if (stack.inProgress) throw inProgress(stack);
      this.run(stack, () => this.options.deployer.delete(stack));
      return {};
    },
    DescribeStackEvents: (p) => ({
      StackEvents: this.stack(p.required('StackName')).events.map((event) => ({ ...event })),
    }),
    DescribeStackResource: (p) => {
      const stack = this.stack(p.required('StackName'));
      const id = p.required('LogicalResourceId');
      const resource = stack.resources.get(id);
      if (!resource)
        throw new QueryApiError(
          'ValidationError',
          `Resource ${id} does not exist for stack ${stack.stackName}`,
        );
      return {
        StackResourceDetail: {
          ...describeResource(stack, resource),
          LastUpdatedTimestamp: resource.timestamp,
          Metadata: '{}',
        },
      };
    },
    DescribeStackResources: (p) => {
      const stack = this.stack(p.required('StackName'));
      const id = p.get('LogicalResourceId');
      const resources = [...stack.resources.values()].filter((r) => id === undefined || r.logicalId === id);
      return {
        StackResources: resources.map((r) => ({ ...describeResource(stack, r), Timestamp: r.timestamp })),
      };
    },
    ListStackResources: (p) => {
      const stack = this.stack(p.required('StackName'));
      return {
        StackResourceSummaries: [...stack.resources.values()].map((r) => ({
          LogicalResourceId: r.logicalId,
          PhysicalResourceId: r.values.physicalId,
          ResourceType: r.type,
          LastUpdatedTimestamp: r.timestamp,
          ResourceStatus: r.status,
          ResourceStatusReason: r.reason,
        })),
      };
    },
    SetStackPolicy: (p) => {
      this.stack(p.required('StackName')).stackPolicy = p.get('StackPolicyBody');
      return undefined;
    },
    ListExports: () => ({ Exports: [] }),
  };

  private run(stack: Stack, operation: () => Promise<void>): void {
    stack.operation = operation().finally(() => {
      stack.operation = undefined;
    });
  }

  private newStack(name: string, status: StackStatus, p: QueryParams): Stack {
    const stack = new Stack(name, this.options.region, this.options.accountId, status);
    stack.capabilities = p.list('Capabilities');
    stack.tags = p.structs('Tags').map((t) => ({ Key: t.Key ?? '', Value: t.Value ?? '' }));
    this.stacks.set(stack.stackId, stack);
    return stack;
  }

  /** The stack a name or id names (a deleted one only by its id), else undefined. */
  private find(nameOrId: string): Stack | undefined {
    const byId = this.stacks.get(nameOrId);
    if (byId) return byId;
    return this.liveStacks().find((s) => s.stackName === nameOrId);
  }

  private stack(nameOrId: string): Stack {
    const stack = this.find(nameOrId);
    if (!stack) throw new QueryApiError('ValidationError', `Stack with id ${nameOrId} does not exist`);
    return stack;
  }

  /** The stack StackName names, or else the one whose change set the ChangeSetName ARN is. */
  private stackOfChangeSet(p: QueryParams): Stack {
    const name = p.get('StackName');
    if (name !== undefined) return this.stack(name);
    const changeSet = p.required('ChangeSetName');
    const owner = [...this.stacks.values()].find((s) =>
      [...s.changeSets.values()].some((c) => c.id === changeSet),
    );
    if (!owner)
      throw new QueryApiError(
        'ValidationError',
        `StackName must be given when ChangeSetName is not a change set's ARN (${changeSet})`,
      );
    return owner;
  }

  private updatable(nameOrId: string): Stack {
    const stack = this.stack(nameOrId);
    if (stack.inProgress) throw inProgress(stack);
    if (stack.status === StackStatus.ROLLBACK_COMPLETE || stack.status === StackStatus.REVIEW_IN_PROGRESS)
      throw new QueryApiError(
        'ValidationError',
        `Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`,
      );
    return stack;
  }

  private changeSet(stack: Stack, nameOrId: string): ChangeSet {
    const changeSet = [...stack.changeSets.values()].find((c) => c.name === nameOrId || c.id === nameOrId);
    if (!changeSet) throw new QueryApiError('ChangeSetNotFound', `ChangeSet [${nameOrId}] does not exist`);
    return changeSet;
  }

  /** TemplateBody, or the object TemplateURL names in S3 (path-style or virtual-hosted URL). */
  private async templateOf(p: QueryParams): Promise<Template> {
    const template = parseTemplate(await this.templateBodyOf(p));
    // A dependency cycle or a DependsOn on nothing is refused up front, as CloudFormation validates.
    creationOrder(template.Resources);
    return template;
  }

  private readonly fetchedBodies = new WeakMap<Template, string>();

  private bodyOf(p: QueryParams, template: Template): string {
    return p.get('TemplateBody') ?? this.fetchedBodies.get(template) ?? JSON.stringify(template);
  }

  private async templateBodyOf(p: QueryParams): Promise<string> {
    const body = p.get('TemplateBody');
    if (body !== undefined) return body;
    const url = p.get('TemplateURL');
    if (url === undefined)
      throw new QueryApiError('ValidationError', 'Either Template URL or Template Body must be specified.');
    const { bucket, key } = s3LocationOf(url);
    try {
      const object = await this.options.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await (object.Body as { transformToString(): Promise<string> }).transformToString();
    } catch (error) {
      throw new QueryApiError('ValidationError', `S3 error: ${(error as Error).message} (${url})`);
    }
  }
}

function describeStack(stack: Stack): Record<string, XmlValue> {
  return {
    StackId: stack.stackId,
    StackName: stack.stackName,
    Description: stack.template.Description,
    Parameters: Object.entries(stack.parameters).map(([ParameterKey, ParameterValue]) => ({
      ParameterKey,
      ParameterValue,
    })),
    CreationTime: stack.creationTime,
    LastUpdatedTime: stack.lastUpdatedTime,
    DeletionTime: stack.deletionTime,
    StackStatus: stack.status,
    StackStatusReason: stack.statusReason,
    DisableRollback: false,
    Capabilities: stack.capabilities,
    Outputs: stack.outputs,
    Tags: stack.tags,
    EnableTerminationProtection: false,
  };
}

function describeResource(stack: Stack, resource: StackResource): Record<string, XmlValue> {
  return {
    StackName: stack.stackName,
    StackId: stack.stackId,
    LogicalResourceId: resource.logicalId,
    PhysicalResourceId: resource.values.physicalId,
    ResourceType: resource.type,
    ResourceStatus: resource.status,
    ResourceStatusReason: resource.reason,
  };
}

function parametersOf(p: QueryParams): Record<string, string> {
  return Object.fromEntries(
    p.structs('Parameters').map((m) => [m.ParameterKey ?? '', m.ParameterValue ?? '']),
  );
}

function inProgress(stack: Stack): QueryApiError {
  return new QueryApiError(
    'ValidationError',
    `Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`,
  );
}

function s3LocationOf(url: string): { bucket: string; key: string } {
  const parsed = new URL(url);
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const virtual = /^(.+)\.s3[.-]/.exec(parsed.hostname);
  if (virtual) return { bucket: virtual[1] as string, key: path };
  const slash = path.indexOf('/');
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}
