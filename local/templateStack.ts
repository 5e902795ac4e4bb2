import { LocalStackError } from '../lib/errors.ts';
import type { Log } from '../lib/log.ts';
import { Deployer } from './cloudformation/deployer.ts';
import type { ProvisionContext } from './cloudformation/provisioning.ts';
import { Stack, StackStatus } from './cloudformation/stack.ts';
import { parseTemplate, type Template, type TemplateResource } from './cloudformation/template.ts';

export interface TemplateStackOptions {
  /** The packaged template's JSON (local/packagedTemplate.ts). */
  readonly body: string;
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly log: Log;
  /** The provisioners' context: the emulators, the IAM, the function host, the schedules. */
  readonly context: Omit<ProvisionContext, 'stackName'>;
  /** Replaces every queue's VisibilityTimeout (tests use a short one to see redeliveries quickly). */
  readonly visibilityTimeoutSeconds?: number;
}

/**
 * Create the embedded stack's resources from the packaged template through the same
 * provisioners `sls deploy --stage local` uses (local/cloudformation/), in dependency order.
 * A resource that cannot be created fails the start with its reason, as its stack event says.
 */
export async function provisionTemplate(options: TemplateStackOptions): Promise<Stack> {
  const template = forEmbeddedStack(parseTemplate(options.body), options.visibilityTimeoutSeconds);
  const stack = new Stack(
    options.stackName,
    options.region,
    options.accountId,
    StackStatus.REVIEW_IN_PROGRESS,
  );
  const deployer = new Deployer({
    region: options.region,
    accountId: options.accountId,
    log: options.log,
    context: (s) => ({ ...options.context, stackName: s.stackName }),
  });
  await deployer.deploy(stack, 'CREATE', template, options.body, {});
  if (stack.status !== StackStatus.CREATE_COMPLETE) {
    const failures = stack.events
      .filter((event) => event.ResourceStatus.endsWith('_FAILED') && event.ResourceStatusReason)
      .map((event) => `${event.LogicalResourceId}: ${event.ResourceStatusReason}`)
      .reverse();
    throw new LocalStackError(
      `the embedded stack could not be provisioned from its template (${stack.status}): ${failures.join('; ') || stack.statusReason}`,
    );
  }
  return stack;
}

/**
 * The template as the embedded stack provisions it: ECS on whatever the stage says (the
 * stack runs ECS steps as local tasks, so its roles and the functions' ECS settings must
 * exist), and the queues' visibility timeout when a test asks for another.
 */
function forEmbeddedStack(template: Template, visibilityTimeoutSeconds: number | undefined): Template {
  const conditions = { ...template.Conditions };
  if ('EcsEnabled' in conditions) conditions.EcsEnabled = { 'Fn::Equals': ['true', 'true'] };
  const resources: Record<string, TemplateResource> = { ...template.Resources };
  if (visibilityTimeoutSeconds !== undefined) {
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::SQS::Queue') continue;
      resources[id] = {
        ...resource,
        Properties: { ...resource.Properties, VisibilityTimeout: visibilityTimeoutSeconds },
      };
    }
  }
  return { ...template, Conditions: conditions, Resources: resources };
}
