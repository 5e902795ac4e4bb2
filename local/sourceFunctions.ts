import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { type AwsClientOptions, type AwsClients, createAwsClients } from '../lib/aws/clients.ts';
import { readConfig } from '../lib/aws/config.ts';
import type { RequestMetrics } from '../lib/aws/requestMetrics.ts';
import { createDeps, type Deps } from '../lib/deps.ts';
import { LocalStackError } from '../lib/errors.ts';
import type { JobRegistry } from '../lib/job/registry.ts';
import type { Log } from '../lib/log.ts';
import type { RunnerHooks } from '../lib/step/runner.ts';
import type { FunctionDeclaration, FunctionHost, HostedFunction } from './cloudformation/functionHost.ts';
import type { Credentials } from './iam/authority.ts';
import { nameOf } from './lambda/runtime.ts';
import { lambdaContext, type TaskFunction } from './lambdaContext.ts';

export interface SourceFunctionsOptions {
  /** Where the handlers' sources are (`handlers/stepWorker.handler` → root/handlers/stepWorker.ts). */
  readonly root: string;
  /** `<service>-<stage>-`: a function's name without it is its key in serverless.yml (stepWorker). */
  readonly namePrefix: string;
  readonly registry: JobRegistry;
  /** Passed to each handler (tests inject faults with them). */
  readonly hooks?: RunnerHooks;
  /** Where the functions' clients send. */
  readonly reach: AwsClientOptions;
  /** A session of the function's role: what its clients sign with. */
  readonly credentialsFor: (declaration: FunctionDeclaration) => Credentials;
  /** Called on each function's clients once built (the send audit, the trace headers). */
  readonly instrument?: (aws: AwsClients) => void;
  /** Counts each function's requests, scoped by its key. */
  readonly requestMetrics?: RequestMetrics;
  /** More environment over each function's own (the local ECS settings, the caller's additions). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Replaces a function's timeout, by key (seconds). */
  readonly timeouts?: Readonly<Record<string, number>>;
  readonly log: Log;
}

interface HandlerModule {
  createHandler(getDeps: () => Deps, hooks?: RunnerHooks): TaskFunction;
}

interface SourceFunction {
  readonly key: string;
  readonly hosted: HostedFunction;
  readonly handler: TaskFunction;
  readonly environment: Record<string, string>;
  readonly aws: AwsClients;
}

/**
 * The embedded stack's own functions: each AWS::Lambda::Function of the template bound to
 * its handler's source module, run in this process (its zip is never read), so tests reach
 * its deps and inject faults. Each has its own clients, signing as its role, and deps built
 * from its environment as a cold start builds them.
 */
export class SourceFunctions implements FunctionHost {
  private readonly functions = new Map<string, SourceFunction>();
  /** Each function's deps, by key (startRun, stepWorker, ...). */
  readonly deps = new Map<string, Deps>();

  constructor(private readonly options: SourceFunctionsOptions) {}

  async deploy(declaration: FunctionDeclaration): Promise<HostedFunction> {
    const { options } = this;
    if (!declaration.functionName.startsWith(options.namePrefix))
      throw new LocalStackError(
        `${declaration.functionName} is not named ${options.namePrefix}<function>, as Serverless names functions`,
      );
    const key = declaration.functionName.slice(options.namePrefix.length);
    const aws = createAwsClients({ ...options.reach, credentials: options.credentialsFor(declaration) });
    options.instrument?.(aws);
    options.requestMetrics?.install(aws);
    const environment = { ...declaration.environment, ...options.environment };
    const dot = declaration.handler.lastIndexOf('.');
    const file = join(options.root, `${declaration.handler.slice(0, dot)}.ts`);
    const module = (await import(pathToFileURL(file).href)) as HandlerModule;
    if (typeof module.createHandler !== 'function')
      throw new LocalStackError(`${file} must export createHandler(getDeps) for the embedded stack`);
    const created = module.createHandler(() => this.deps.get(key) as Deps, options.hooks);
    const metrics = options.requestMetrics;
    const handler: TaskFunction = metrics
      ? (event, context) => metrics.withScope(key, () => created(event, context))
      : created;
    const timeout = options.timeouts?.[key];
    const hosted: HostedFunction = {
      functionName: declaration.functionName,
      functionArn: declaration.functionArn,
      role: declaration.role,
      memorySize: declaration.memorySize,
      timeoutSeconds: timeout ?? declaration.timeoutSeconds,
    };
    this.functions.set(declaration.functionName, { key, hosted, handler, environment, aws });
    this.buildDeps(declaration.functionName);
    return hosted;
  }

  async delete(functionName: string): Promise<void> {
    const fn = this.functions.get(nameOf(functionName));
    if (!fn) return;
    this.functions.delete(fn.hosted.functionName);
    this.deps.delete(fn.key);
  }

  get(functionNameOrArn: string): HostedFunction | undefined {
    return this.functions.get(nameOf(functionNameOrArn))?.hosted;
  }

  async invoke(functionName: string, event: unknown, context?: Context): Promise<unknown> {
    const fn = this.functions.get(nameOf(functionName));
    if (!fn) throw new LocalStackError(`Function not found: ${functionName}`);
    return fn.handler(event, context ?? lambdaContext(fn.hosted, randomUUID()));
  }

  /** A function's environment by key (what its deps were built from). */
  environmentOf(key: string): Record<string, string> | undefined {
    return this.byKey(key)?.environment;
  }

  /**
   * Lambda's UpdateFunctionConfiguration for the environment: `changes` merged (undefined
   * removes a variable), and its deps rebuilt, as new execution environments would be.
   */
  updateEnvironment(key: string, changes: Readonly<Record<string, string | undefined>>): void {
    const fn = this.byKey(key);
    if (!fn)
      throw new LocalStackError(
        `updateFunctionEnvironment: the stack has no function ${key} (${[...this.deps.keys()].join(', ')})`,
      );
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete fn.environment[name];
      else fn.environment[name] = value;
    }
    this.buildDeps(fn.hosted.functionName);
  }

  private byKey(key: string): SourceFunction | undefined {
    return [...this.functions.values()].find((fn) => fn.key === key);
  }

  /** A function's deps, from its environment (its config read once, as a cold start does). */
  private buildDeps(functionName: string): void {
    const fn = this.functions.get(functionName) as SourceFunction;
    const env = fn.environment;
    this.deps.set(
      fn.key,
      createDeps(this.options.registry, { env, config: readConfig(env), aws: fn.aws, log: this.options.log }),
    );
  }
}
