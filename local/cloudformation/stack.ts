import { randomUUID } from 'node:crypto';
import type { ProvisionedValues } from './provisioners.ts';
import type { Template } from './template.ts';

/** Stack statuses, as CloudFormation names them. */
export const StackStatus = {
  REVIEW_IN_PROGRESS: 'REVIEW_IN_PROGRESS',
  CREATE_IN_PROGRESS: 'CREATE_IN_PROGRESS',
  CREATE_COMPLETE: 'CREATE_COMPLETE',
  ROLLBACK_IN_PROGRESS: 'ROLLBACK_IN_PROGRESS',
  ROLLBACK_COMPLETE: 'ROLLBACK_COMPLETE',
  UPDATE_IN_PROGRESS: 'UPDATE_IN_PROGRESS',
  UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS',
  UPDATE_COMPLETE: 'UPDATE_COMPLETE',
  UPDATE_ROLLBACK_IN_PROGRESS: 'UPDATE_ROLLBACK_IN_PROGRESS',
  UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS: 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS',
  UPDATE_ROLLBACK_COMPLETE: 'UPDATE_ROLLBACK_COMPLETE',
  DELETE_IN_PROGRESS: 'DELETE_IN_PROGRESS',
  DELETE_COMPLETE: 'DELETE_COMPLETE',
  DELETE_FAILED: 'DELETE_FAILED',
} as const;
export type StackStatus = (typeof StackStatus)[keyof typeof StackStatus];

/** A resource of a stack as it exists, with the properties it was last provisioned with. */
export interface StackResource {
  readonly logicalId: string;
  readonly type: string;
  readonly values: ProvisionedValues;
  /** Its evaluated properties: a change to them is an update. */
  readonly properties: Record<string, unknown>;
  readonly status: string;
  readonly reason?: string;
  readonly timestamp: Date;
}

export interface StackEvent {
  readonly EventId: string;
  readonly StackId: string;
  readonly StackName: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId: string;
  readonly ResourceType: string;
  readonly Timestamp: Date;
  readonly ResourceStatus: string;
  readonly ResourceStatusReason?: string;
}

export interface ResourceChange {
  readonly Action: 'Add' | 'Modify' | 'Remove';
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  readonly PhysicalResourceId?: string;
}

export interface ChangeSet {
  readonly id: string;
  readonly name: string;
  readonly type: 'CREATE' | 'UPDATE';
  readonly templateBody: string;
  readonly template: Template;
  readonly parameters: Record<string, string>;
  readonly changes: readonly ResourceChange[];
  readonly creationTime: Date;
  readonly description?: string;
  status: 'CREATE_COMPLETE' | 'FAILED';
  executionStatus: 'AVAILABLE' | 'UNAVAILABLE' | 'EXECUTE_IN_PROGRESS' | 'EXECUTE_COMPLETE';
  statusReason?: string;
}

/** One stack: its template, resources, outputs, events (newest first) and change sets. */
export class Stack {
  readonly stackId: string;
  status: StackStatus;
  statusReason?: string;
  templateBody = '{"Resources":{}}';
  template: Template = { Resources: {} };
  parameters: Record<string, string> = {};
  outputs: { OutputKey: string; OutputValue: string; Description?: string }[] = [];
  readonly resources = new Map<string, StackResource>();
  readonly events: StackEvent[] = [];
  readonly changeSets = new Map<string, ChangeSet>();
  readonly creationTime = new Date();
  lastUpdatedTime?: Date;
  deletionTime?: Date;
  capabilities: string[] = [];
  tags: { Key: string; Value: string }[] = [];
  stackPolicy?: string;
  /** The deployment under way, if any (a stack runs one operation at a time). */
  operation?: Promise<void>;

  constructor(
    readonly stackName: string,
    region: string,
    accountId: string,
    status: StackStatus,
  ) {
    this.stackId = `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/${randomUUID()}`;
    this.status = status;
  }

  get inProgress(): boolean {
    return this.status.endsWith('_IN_PROGRESS') && this.status !== StackStatus.REVIEW_IN_PROGRESS;
  }

  /** Record the stack's own status change as an event. */
  setStatus(status: StackStatus, reason?: string): void {
    this.status = status;
    this.statusReason = reason;
    this.event(this.stackName, this.stackId, 'AWS::CloudFormation::Stack', status, reason);
  }

  event(logicalId: string, physicalId: string, type: string, status: string, reason?: string): void {
    this.events.unshift({
      EventId: randomUUID(),
      StackId: this.stackId,
      StackName: this.stackName,
      LogicalResourceId: logicalId,
      PhysicalResourceId: physicalId,
      ResourceType: type,
      Timestamp: new Date(),
      ResourceStatus: status,
      ...(reason !== undefined && { ResourceStatusReason: reason }),
    });
  }
}
