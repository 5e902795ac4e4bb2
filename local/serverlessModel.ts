import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { LocalStackError } from '../lib/errors.ts';

/**
 * The part of serverless.yml the embedded stack needs, with the Serverless
 * variables resolved: the same file describes the deployed and the local
 * system, so they cannot drift. CloudFormation intrinsics (Ref, Fn::GetAtt,
 * Fn::Join) are left in place; local/resources.ts resolves them.
 */
export interface ServerlessModel {
  readonly service: string;
  readonly stage: string;
  readonly region: string;
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly resources: Readonly<Record<string, CfnResource>>;
  /** provider.environment, intrinsics unresolved. */
  readonly environment: Readonly<Record<string, unknown>>;
  /** The run state machine's name (stepFunctions.stateMachines.run.name). */
  readonly stateMachineName: string;
  /** Its role (stepFunctions.stateMachines.run.role: an intrinsic, usually Fn::GetAtt [Role, Arn]). */
  readonly stateMachineRole: unknown;
  /** Its logical id in the template (stepFunctions.stateMachines.run.id), what `Ref` names. */
  readonly stateMachineLogicalId: string;
}

export interface FunctionSpec {
  readonly name: string;
  /** `handlers/stepWorker.handler` → module `handlers/stepWorker`, export `handler`. */
  readonly module: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** `functions.<name>.role`: a role's logical id (or an intrinsic giving its ARN). */
  readonly role: unknown;
  readonly sqsEvents: readonly SqsEventSpec[];
  /**
   * What Lambda does when it finds the function in a recursive loop (AWS::Lambda::Function
   * RecursiveLoop, from resources.extensions): Terminate, AWS's default, stops the loop.
   */
  readonly recursiveLoop: RecursiveLoop;
}

export const RecursiveLoop = { Allow: 'Allow', Terminate: 'Terminate' } as const;
export type RecursiveLoop = (typeof RecursiveLoop)[keyof typeof RecursiveLoop];

export interface SqsEventSpec {
  /** The queue as an intrinsic (usually Fn::GetAtt [Queue, Arn]). */
  readonly arn: unknown;
  readonly batchSize: number;
  readonly maximumConcurrency: number;
  readonly reportBatchItemFailures: boolean;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface ModelOptions {
  readonly stage: string;
  readonly region: string;
  /**
   * Conditions taken as given instead of evaluated. The embedded stack runs ECS steps
   * whatever the stage says, so its IAM view reads the template with EcsEnabled true.
   */
  readonly conditionOverrides?: Readonly<Record<string, boolean>>;
}

type Doc = Record<string, unknown>;

/** Innermost `${...}`: no `$`, `{` or `}` inside. */
const VARIABLE = /\$\{([^${}]*)\}/;

export function loadServerlessModel(file: string, options: ModelOptions): ServerlessModel {
  let doc: Doc;
  try {
    doc = parse(readFileSync(file, 'utf8')) as Doc;
  } catch (error) {
    throw new LocalStackError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const resolver = new VariableResolver(doc, options, file);
  const resolve = (value: unknown, where: string) => resolver.resolve(value, where);

  const provider = (resolve(doc.provider, 'provider') ?? {}) as Doc;
  const functionsDoc = (resolve(doc.functions, 'functions') ?? {}) as Record<string, Doc>;
  const extensions = (resolve(mergedResources(doc.resources, 'extensions'), 'resources.extensions') ??
    {}) as Record<string, Doc>;
  const conditions = new Conditions(
    (resolve(mergedResources(doc.resources, 'Conditions'), 'resources.Conditions') ?? {}) as Doc,
    file,
    options.conditionOverrides,
  );
  const resourcesDoc = conditions.apply(
    resolve(mergedResources(doc.resources), 'resources.Resources') ?? {},
  ) as Record<string, CfnResource & { Condition?: string }>;
  for (const [id, resource] of Object.entries(resourcesDoc)) {
    if (resource.Condition !== undefined && !conditions.holds(resource.Condition)) delete resourcesDoc[id];
  }
  const machines = ((doc.stepFunctions as Doc | undefined)?.stateMachines ?? {}) as Record<string, Doc>;
  const runMachine = machines.run;
  if (!runMachine) throw new LocalStackError(`${file}: stepFunctions.stateMachines.run is missing`);

  const functions: Record<string, FunctionSpec> = {};
  for (const [name, spec] of Object.entries(functionsDoc)) {
    const handler = String(spec.handler ?? '');
    const dot = handler.lastIndexOf('.');
    if (dot <= 0)
      throw new LocalStackError(`${file}: functions.${name}.handler '${handler}' is not module.export`);
    const events = (spec.events ?? []) as Doc[];
    functions[name] = {
      name,
      module: handler.slice(0, dot),
      timeoutSeconds: Number(spec.timeout ?? provider.timeout ?? 6),
      memorySize: Number(spec.memorySize ?? provider.memorySize ?? 1024),
      role: spec.role ?? provider.role,
      recursiveLoop: recursiveLoopOf(extensions, name, file),
      sqsEvents: events
        .filter((event) => event.sqs)
        .map((event) => {
          const sqs = event.sqs as Doc;
          return {
            arn: sqs.arn,
            batchSize: Number(sqs.batchSize ?? 10),
            maximumConcurrency: Number(sqs.maximumConcurrency ?? 2),
            reportBatchItemFailures: sqs.functionResponseType === 'ReportBatchItemFailures',
          };
        }),
    };
  }

  return {
    service: String(resolve(doc.service, 'service')),
    stage: options.stage,
    region: options.region,
    functions,
    resources: resourcesDoc as Record<string, CfnResource>,
    environment: conditions.apply(provider.environment ?? {}) as Record<string, unknown>,
    stateMachineName: String(resolve(runMachine.name, 'stepFunctions.stateMachines.run.name')),
    stateMachineRole: resolve(runMachine.role, 'stepFunctions.stateMachines.run.role'),
    // serverless-step-functions' default logical id when the machine sets none.
    stateMachineLogicalId: String(runMachine.id ?? 'RunStepFunctionsStateMachine'),
  };
}

/** Resolves the Serverless variables this project uses: sls:, self:, opt:, aws:region, env:. */
class VariableResolver {
  constructor(
    private readonly doc: Doc,
    private readonly options: ModelOptions,
    private readonly file: string,
  ) {}

  resolve(value: unknown, where: string, depth = 0): unknown {
    if (depth > 20) throw new LocalStackError(`${this.file}: variables nest too deep at ${where}`);
    if (typeof value === 'string') return this.resolveString(value, where, depth);
    if (Array.isArray(value)) return value.map((item, i) => this.resolve(item, `${where}[${i}]`, depth));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, this.resolve(item, `${where}.${key}`, depth)]),
      );
    }
    return value;
  }

  private resolveString(text: string, where: string, depth: number): unknown {
    let current = text;
    for (;;) {
      const match = VARIABLE.exec(current);
      if (!match) return current;
      const value = this.lookup((match[1] as string).trim(), where, depth);
      // A string that is exactly one variable takes the variable's type (number, object).
      if (match[0] === current) return value;
      current = current.replace(match[0], String(value));
    }
  }

  private lookup(expression: string, where: string, depth: number): unknown {
    const comma = expression.indexOf(',');
    const source = (comma < 0 ? expression : expression.slice(0, comma)).trim();
    const fallback = comma < 0 ? undefined : unquote(expression.slice(comma + 1).trim());
    const value = this.source(source, where, depth);
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    throw new LocalStackError(`${this.file}: cannot resolve \${${expression}} at ${where}`);
  }

  private source(source: string, where: string, depth: number): unknown {
    if (source === 'sls:stage' || source === 'opt:stage') return this.options.stage;
    if (source === 'opt:region' || source === 'aws:region') return this.options.region;
    if (source.startsWith('opt:')) return undefined;
    if (source.startsWith('env:')) return process.env[source.slice(4)];
    if (source.startsWith('self:')) {
      let node: unknown = this.doc;
      for (const part of source.slice(5).split('.')) {
        // A node on the path may itself be a variable (custom.stage: ${self:custom.stages.${sls:stage}}).
        if (typeof node === 'string') node = this.resolve(node, source, depth + 1);
        node = node && typeof node === 'object' ? (node as Doc)[part] : undefined;
      }
      return node === undefined ? undefined : this.resolve(node, source, depth + 1);
    }
    throw new LocalStackError(
      `${this.file}: the embedded stack does not support \${${source}} (at ${where})`,
    );
  }
}

/**
 * `resources` may be one map or a list merged in order (as Serverless does). List
 * items that are `${file(...)}` generators (the schedules) are not provisioned
 * locally: the embedded stack fires schedules itself.
 */
function mergedResources(
  resources: unknown,
  section: 'Resources' | 'Conditions' | 'extensions' = 'Resources',
): Doc {
  const parts = Array.isArray(resources) ? resources : [resources];
  const merged: Doc = {};
  for (const part of parts) {
    if (part && typeof part === 'object') Object.assign(merged, (part as Doc)[section]);
  }
  return merged;
}

/**
 * A function's RecursiveLoop as the packaged template has it: Serverless v3 has no function
 * key for it, so it comes from resources.extensions.<logical id>.Properties, merged into the
 * AWS::Lambda::Function Serverless generates. Absent, it is AWS's default: Terminate.
 */
function recursiveLoopOf(extensions: Record<string, Doc>, name: string, file: string): RecursiveLoop {
  const logicalId = `${functionLogicalIdPrefix(name)}LambdaFunction`;
  const value = (extensions[logicalId]?.Properties as Doc | undefined)?.RecursiveLoop;
  if (value === undefined) return RecursiveLoop.Terminate;
  if (value === RecursiveLoop.Allow || value === RecursiveLoop.Terminate) return value;
  throw new LocalStackError(
    `${file}: resources.extensions.${logicalId}.Properties.RecursiveLoop is ${JSON.stringify(value)}, not Allow or Terminate`,
  );
}

/** Serverless v3's normalized function name: `step-worker_x` → `StepDashworkerUnderscorex`. */
function functionLogicalIdPrefix(name: string): string {
  const normalized = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return normalized.charAt(0).toUpperCase() + normalized.slice(1);
}

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * The template's Conditions, evaluated as CloudFormation would for this stage: a resource
 * whose Condition is false is not created, Fn::If takes its branch, and AWS::NoValue drops
 * the key. Conditions compare literals only (what the Serverless variables resolve to).
 */
class Conditions {
  constructor(
    private readonly definitions: Doc,
    private readonly file: string,
    private readonly overrides: Readonly<Record<string, boolean>> = {},
  ) {}

  holds(name: string, seen: readonly string[] = []): boolean {
    const given = this.overrides[name];
    if (given !== undefined) return given;
    if (seen.includes(name)) throw new LocalStackError(`${this.file}: condition ${name} refers to itself`);
    const definition = this.definitions[name];
    if (definition === undefined) throw new LocalStackError(`${this.file}: no condition ${name}`);
    return this.evaluate(definition, [...seen, name]);
  }

  apply(value: unknown): unknown {
    if (Array.isArray(value))
      return value.map((item) => this.apply(item)).filter((item) => item !== NO_VALUE);
    if (!value || typeof value !== 'object') return value;
    const object = value as Doc;
    if (object.Ref === 'AWS::NoValue') return NO_VALUE;
    const branch = object['Fn::If'];
    if (Array.isArray(branch) && Object.keys(object).length === 1) {
      return this.apply(this.holds(String(branch[0])) ? branch[1] : branch[2]);
    }
    const entries = Object.entries(object).map(([key, item]) => [key, this.apply(item)] as const);
    return Object.fromEntries(entries.filter(([, item]) => item !== NO_VALUE));
  }

  private evaluate(expression: unknown, seen: readonly string[]): boolean {
    const object = (expression && typeof expression === 'object' ? expression : {}) as Doc;
    const args = (key: string) => (Array.isArray(object[key]) ? (object[key] as unknown[]) : []);
    if (typeof object.Condition === 'string') return this.holds(object.Condition, seen);
    if ('Fn::Not' in object) return !this.evaluate(args('Fn::Not')[0], seen);
    if ('Fn::And' in object) return args('Fn::And').every((item) => this.evaluate(item, seen));
    if ('Fn::Or' in object) return args('Fn::Or').some((item) => this.evaluate(item, seen));
    const [left, right] = args('Fn::Equals');
    if ('Fn::Equals' in object && [left, right].every((side) => side === null || typeof side !== 'object')) {
      return String(left) === String(right);
    }
    throw new LocalStackError(
      `${this.file}: the embedded stack cannot evaluate the condition ${JSON.stringify(expression)}`,
    );
  }
}

function unquote(text: string): string {
  return /^(['"]).*\1$/.test(text) ? text.slice(1, -1) : text;
}
