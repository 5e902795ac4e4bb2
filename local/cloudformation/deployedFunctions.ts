import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { type AwsClientOptions, clientConfig } from '../../lib/aws/clients.ts';
import type { Log } from '../../lib/log.ts';
import { type LocalEventBridge, ruleOf } from '../eventBridge.ts';
import { type EventSourceMapping, SqsEventSource, type SqsHandler } from '../eventSource.ts';
import type { IamAuthority } from '../iam/authority.ts';
import { nameOf } from '../lambda/runtime.ts';
import type { LocalTaskFunction } from '../lambdaContext.ts';
import type { LocalStepFunctions } from '../stepFunctions.ts';
import type { DeployedIam } from './deployedIam.ts';
import type { FunctionHost, HostedFunction } from './functionHost.ts';
import { ProvisionError } from './provisionError.ts';

export interface DeployedFunctionsOptions {
  readonly region: string;
  readonly accountId: string;
  /** Where the functions' clients and their event sources' pollers send (the IAM gateway). */
  readonly reach: AwsClientOptions;
  /** The admin's SQS client (what the event source's recursive-loop breaker moves messages with). */
  readonly adminSqs: SQSClient;
  /** Where the functions run: the zips on the local Lambda, or the sources in-process. */
  readonly host: FunctionHost;
  readonly sfn: LocalStepFunctions;
  /** The default event bus: deployed rules invoke deployed functions from it. */
  readonly events: LocalEventBridge;
  readonly iam: DeployedIam;
  readonly authority: IamAuthority;
  readonly log: Log;
  /** How long each Wait state of a deployed state machine lasts locally (ms). */
  readonly waitMs: number;
  readonly retryMs: number;
  /**
   * Starts a mapping's SQS event source; default one SqsEventSource each. The embedded stack
   * collects its mappings into the one event source it starts once provisioned.
   */
  readonly startEventSource?: (mapping: EventSourceMapping) => { stop(): Promise<void> };
}

type Props = Record<string, unknown>;

/**
 * The running side of deployed stacks: AWS::Lambda::Function on the local Lambda (the zip's
 * bundle), AWS::Lambda::EventSourceMapping as an SQS event source invoking it, and
 * AWS::StepFunctions::StateMachine whose Lambda tasks invoke it. Invocations go through the
 * function's name, so a redeployed function's next invocation runs its new code.
 */
export class DeployedFunctions {
  private readonly mappings = new Map<string, { stop(): Promise<void> }>();
  private readonly recursiveLoops = new Map<string, 'Allow' | 'Terminate'>();
  /** AWS::Lambda::Permission statements: who may invoke which function, for which source. */
  private readonly permissions = new Map<string, Props>();

  constructor(private readonly options: DeployedFunctionsOptions) {}

  /** An AWS::Lambda::Function on the host; `zip` reads its code, if the host runs the zip. */
  async deployFunction(name: string, props: Props, zip: () => Promise<Buffer>): Promise<HostedFunction> {
    const { region, accountId } = this.options;
    const variables = ((props.Environment as Props | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const handler = String(props.Handler ?? '');
    if (!handler.includes('.')) throw new ProvisionError(`Handler '${handler}' is not file.export`);
    this.recursiveLoops.set(name, props.RecursiveLoop === 'Allow' ? 'Allow' : 'Terminate');
    return this.options.host.deploy(
      {
        functionName: name,
        functionArn: `arn:aws:lambda:${region}:${accountId}:function:${name}`,
        handler,
        runtime: String(props.Runtime ?? 'nodejs22.x'),
        role: String(props.Role ?? ''),
        memorySize: Number(props.MemorySize ?? 128),
        timeoutSeconds: Number(props.Timeout ?? 3),
        // NODE_OPTIONS is for a Lambda process; these functions run in this one (or its worker threads).
        environment: Object.fromEntries(
          Object.entries(variables)
            .filter(([key]) => key !== 'NODE_OPTIONS')
            .map(([key, value]) => [key, String(value)]),
        ),
      },
      zip,
    );
  }

  async deleteFunction(name: string): Promise<void> {
    this.recursiveLoops.delete(name);
    await this.options.host.delete(name);
  }

  async createEventSourceMapping(
    uuid: string,
    props: Props,
    queue: { url: string; arn: string },
  ): Promise<void> {
    const version = this.version(String(props.FunctionName));
    const scaling = (props.ScalingConfig ?? {}) as Props;
    // The mapping polls as the function's role, as Lambda's does.
    const { credentials } = this.options.iam.session(
      `${version.functionName}-poller`,
      version.role,
      'lambda.amazonaws.com',
    );
    const handler: SqsHandler = async (event, context) =>
      (await this.options.host.invoke(version.functionName, event, context)) as Awaited<
        ReturnType<SqsHandler>
      >;
    const mapping: EventSourceMapping = {
      functionName: version.functionName,
      functionArn: version.functionArn,
      timeoutSeconds: version.timeoutSeconds,
      memorySize: version.memorySize,
      queueUrl: queue.url,
      queueArn: queue.arn,
      batchSize: Number(props.BatchSize ?? 10),
      maximumConcurrency: Number(scaling.MaximumConcurrency ?? 2),
      reportBatchItemFailures: ((props.FunctionResponseTypes ?? []) as unknown[]).includes(
        'ReportBatchItemFailures',
      ),
      recursiveLoop: this.recursiveLoops.get(version.functionName) ?? 'Terminate',
      handler,
      sqs: new SQSClient({
        ...clientConfig('sqs', { ...this.options.reach, credentials }),
        useQueueUrlAsEndpoint: false,
      }),
    };
    if (props.Enabled === false || props.Enabled === 'false') return;
    const start =
      this.options.startEventSource ??
      ((one: EventSourceMapping) => {
        const source = new SqsEventSource(this.options.adminSqs, [one], this.options.log);
        source.start();
        return source;
      });
    this.mappings.set(uuid, start(mapping));
  }

  async deleteEventSourceMapping(uuid: string): Promise<void> {
    await this.mappings.get(uuid)?.stop();
    this.mappings.delete(uuid);
  }

  /** Create or replace the state machine; its Lambda tasks invoke the deployed functions. */
  deployStateMachine(name: string, props: Props): string {
    const definition =
      typeof props.DefinitionString === 'string'
        ? props.DefinitionString
        : JSON.stringify(props.Definition ?? {});
    const roleArn = String(props.RoleArn ?? '');
    const { principal } = this.options.iam.session(name, roleArn, 'states.amazonaws.com');
    try {
      return this.options.sfn.createStateMachine({
        name,
        definition,
        roleArn,
        functions: this.taskFunctions(definition),
        waitMs: this.options.waitMs,
        retryMs: this.options.retryMs,
        authorize: (action, resource) =>
          this.options.authority.authorize(principal, `StepFunctions.${action}`, [{ action, resource }])
            ?.message,
      });
    } catch (error) {
      throw new ProvisionError(`Invalid State Machine Definition: '${(error as Error).message}'`);
    }
  }

  deleteStateMachine(arn: string): void {
    this.options.sfn.deleteStateMachine(arn);
  }

  /** An AWS::Lambda::Permission: a service may invoke the function (for one source ARN). */
  addPermission(id: string, props: Props): void {
    this.permissions.set(id, props);
  }

  removePermission(id: string): void {
    this.permissions.delete(id);
  }

  /**
   * An AWS::Events::Rule on the default bus: events its pattern matches invoke its Lambda
   * targets, asynchronously, if a permission lets events.amazonaws.com invoke them for this
   * rule (on AWS each invocation fails without one).
   */
  putRule(name: string, arn: string, props: Props): void {
    this.options.events.deleteRule(arn);
    const targetOf = (functionArn: string) => {
      const version = this.version(functionArn);
      const functionName = version.functionName;
      return {
        functionName,
        functionArn: version.functionArn,
        timeoutSeconds: version.timeoutSeconds,
        memorySize: version.memorySize,
        handler: async (event: unknown, context: Context) => {
          if (!this.mayInvoke(functionName, 'events.amazonaws.com', arn))
            throw new ProvisionError(
              `no AWS::Lambda::Permission lets events.amazonaws.com invoke ${functionName} for ${arn}`,
            );
          return this.options.host.invoke(functionName, event, context);
        },
      };
    };
    let rule: ReturnType<typeof ruleOf>;
    try {
      rule = ruleOf(name, arn, props, targetOf);
    } catch (error) {
      if (error instanceof ProvisionError) throw error;
      throw new ProvisionError((error as Error).message);
    }
    if (rule) this.options.events.putRule(rule);
  }

  deleteRule(arn: string): void {
    this.options.events.deleteRule(arn);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.mappings.values()].map((source) => source.stop()));
    this.mappings.clear();
  }

  private mayInvoke(functionName: string, principal: string, sourceArn: string): boolean {
    return [...this.permissions.values()].some(
      (p) =>
        p.Action === 'lambda:InvokeFunction' &&
        p.Principal === principal &&
        nameOf(String(p.FunctionName)) === functionName &&
        (p.SourceArn === undefined || p.SourceArn === sourceArn),
    );
  }

  private version(functionNameOrArn: string): HostedFunction {
    const version = this.options.host.get(functionNameOrArn);
    if (!version) throw new ProvisionError(`Function does not exist: ${functionNameOrArn}`);
    return version;
  }

  /** Each Lambda ARN the definition's Task states name, as a function the engine invokes by name. */
  private taskFunctions(definition: string): Map<string, LocalTaskFunction> {
    const functions = new Map<string, LocalTaskFunction>();
    for (const [, arn] of definition.matchAll(/"Resource"\s*:\s*"(arn:aws[\w-]*:lambda:[^"]+)"/g)) {
      const version = this.version(arn as string);
      functions.set(arn as string, {
        functionName: version.functionName,
        functionArn: arn as string,
        timeoutSeconds: version.timeoutSeconds,
        memorySize: version.memorySize,
        handler: (event, context) => this.options.host.invoke(nameOf(arn as string), event, context),
      });
    }
    return functions;
  }
}
