import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import type { PropertyType, Resource, ResourceProperties, SpecDatabase } from '@aws-cdk/service-spec-types';

/**
 * A CloudFormation template checked against CloudFormation's own resource schemas, as
 * AWS publishes them in @aws-cdk/aws-service-spec: what `sls package` cannot tell and a
 * deploy would (an unknown type, a misspelt or missing property, a GetAtt of an attribute
 * the type does not have, a Ref or condition to nothing). Generic: it knows no resource of
 * ours, only the template and the spec. A test tool, not part of lambdag.
 *
 * Not checked: literal numbers and booleans against their type (CloudFormation converts
 * text), patterns and lengths, and properties under a `json` type (IAM policy documents,
 * the SQS redrive policy), whose Refs and GetAtts are still resolved.
 */

export const ProblemCode = {
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  UNKNOWN_PROPERTY: 'UNKNOWN_PROPERTY',
  MISSING_PROPERTY: 'MISSING_PROPERTY',
  WRONG_SHAPE: 'WRONG_SHAPE',
  NOT_ALLOWED: 'NOT_ALLOWED',
  UNKNOWN_ATTRIBUTE: 'UNKNOWN_ATTRIBUTE',
  UNKNOWN_REFERENCE: 'UNKNOWN_REFERENCE',
  UNKNOWN_CONDITION: 'UNKNOWN_CONDITION',
  BAD_RESOURCE: 'BAD_RESOURCE',
} as const;
export type ProblemCode = (typeof ProblemCode)[keyof typeof ProblemCode];

export interface TemplateProblem {
  code: ProblemCode;
  /** The logical id of the resource or output, or `Conditions`. */
  where: string;
  /** Where in it, e.g. `Properties.LoggingConfiguration.Destinations[0]`. */
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What CloudFormation itself defines for Ref. */
const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);
const RESOURCE_KEYS = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Metadata',
  'CreationPolicy',
  'UpdatePolicy',
]);
const DELETION_POLICIES = new Set(['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot']);

let spec: SpecDatabase | undefined;
/** The spec database (about a second to load): once per process. */
function specDb(): SpecDatabase {
  spec ??= loadAwsServiceSpecSync();
  return spec;
}

function resourceSpec(type: string): Resource | undefined {
  return specDb().lookup('resource', 'cloudFormationType', 'equals', type)[0];
}

/** Types whose properties and attributes are the template author's, not the spec's. */
const isCustom = (type: string) =>
  type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';

/** An intrinsic function or a Ref: an object of one key, `Ref` or `Fn::*`. */
function intrinsicName(value: unknown): string | undefined {
  if (!isObj(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [key] = keys as [string];
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** ` (did you mean X?)` when one known name is close to `name`. */
function suggestion(name: string, known: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const [a, b] = [name.toLowerCase(), candidate.toLowerCase()];
    // One containing the other (Url, QueueUrl) is nearer than any edit.
    const distance = a.includes(b) || b.includes(a) ? 0.5 : editDistance(a, b);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 4))
    ? ` (did you mean ${best}?)`
    : '';
}

function describe(type: PropertyType): string {
  switch (type.type) {
    case 'array':
      return `a list of ${describe(type.element)}`;
    case 'map':
      return `a map of ${describe(type.element)}`;
    case 'ref':
      return `an object (${specDb().get('typeDefinition', type.reference).name})`;
    case 'union':
      return type.types.map(describe).join(' or ');
    default:
      return `a ${type.type}`;
  }
}

class TemplateChecker {
  readonly problems: TemplateProblem[] = [];
  private readonly resources: Obj;
  private readonly parameters: Obj;
  private readonly conditions: Obj;

  constructor(private readonly template: Obj) {
    this.resources = isObj(template.Resources) ? template.Resources : {};
    this.parameters = isObj(template.Parameters) ? template.Parameters : {};
    this.conditions = isObj(template.Conditions) ? template.Conditions : {};
  }

  private report(
    problems: TemplateProblem[],
    code: ProblemCode,
    where: string,
    path: string,
    message: string,
  ) {
    problems.push({ code, where, path, message });
  }

  check(): TemplateProblem[] {
    if (!isObj(this.template.Resources)) {
      this.report(this.problems, ProblemCode.BAD_RESOURCE, 'Resources', '', 'the template has no Resources');
    }
    for (const [name, definition] of Object.entries(this.conditions)) {
      this.references(this.problems, 'Conditions', name, definition, true);
    }
    for (const [id, resource] of Object.entries(this.resources)) this.resource(id, resource);
    const outputs = isObj(this.template.Outputs) ? this.template.Outputs : {};
    for (const [id, output] of Object.entries(outputs)) {
      if (!isObj(output)) continue;
      this.condition(this.problems, `Outputs.${id}`, 'Condition', output.Condition);
      this.references(this.problems, `Outputs.${id}`, 'Value', output.Value);
      this.references(this.problems, `Outputs.${id}`, 'Export', output.Export);
    }
    return this.problems;
  }

  private resource(id: string, resource: unknown) {
    const problems = this.problems;
    if (!isObj(resource)) {
      this.report(problems, ProblemCode.BAD_RESOURCE, id, '', 'is not an object');
      return;
    }
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_KEYS.has(key)) {
        this.report(
          problems,
          ProblemCode.BAD_RESOURCE,
          id,
          key,
          `unknown resource attribute${suggestion(key, RESOURCE_KEYS)}`,
        );
      }
    }
    this.condition(problems, id, 'Condition', resource.Condition);
    for (const [i, target] of (Array.isArray(resource.DependsOn)
      ? resource.DependsOn
      : [resource.DependsOn]
    ).entries()) {
      if (target === undefined) continue;
      if (typeof target !== 'string' || !(target in this.resources)) {
        this.report(
          problems,
          ProblemCode.UNKNOWN_REFERENCE,
          id,
          `DependsOn[${i}]`,
          `depends on ${JSON.stringify(target)}, which the template does not declare`,
        );
      }
    }
    for (const key of ['DeletionPolicy', 'UpdateReplacePolicy']) {
      const policy = resource[key];
      if (policy !== undefined && !DELETION_POLICIES.has(String(policy))) {
        this.report(
          problems,
          ProblemCode.NOT_ALLOWED,
          id,
          key,
          `${JSON.stringify(policy)} is not one of ${[...DELETION_POLICIES].join(', ')}`,
        );
      }
    }
    const type = resource.Type;
    if (typeof type !== 'string') {
      this.report(problems, ProblemCode.UNKNOWN_TYPE, id, 'Type', 'has no Type');
      return;
    }
    if (isCustom(type)) {
      this.references(problems, id, 'Properties', resource.Properties);
      return;
    }
    const found = resourceSpec(type);
    if (!found) {
      this.report(
        problems,
        ProblemCode.UNKNOWN_TYPE,
        id,
        'Type',
        `${type} is not a CloudFormation resource type`,
      );
      return;
    }
    const properties = resource.Properties ?? {};
    if (isObj(properties) && !intrinsicName(properties)) {
      this.properties(problems, id, 'Properties', properties, found.properties);
    } else {
      this.value(problems, id, 'Properties', properties, { type: 'json' });
    }
  }

  /** An object against the properties a resource or a property type declares. */
  private properties(
    problems: TemplateProblem[],
    where: string,
    path: string,
    value: Obj,
    declared: ResourceProperties,
  ) {
    for (const [key, item] of Object.entries(value)) {
      const property = declared[key];
      if (!property) {
        this.report(
          problems,
          ProblemCode.UNKNOWN_PROPERTY,
          where,
          `${path}.${key}`,
          `unknown property${suggestion(key, Object.keys(declared))}`,
        );
        this.references(problems, where, `${path}.${key}`, item);
        continue;
      }
      this.value(problems, where, `${path}.${key}`, item, property.type);
    }
    for (const [key, property] of Object.entries(declared)) {
      if (property.required && !(key in value)) {
        this.report(
          problems,
          ProblemCode.MISSING_PROPERTY,
          where,
          `${path}.${key}`,
          'required property is missing',
        );
      }
    }
  }

  /** A property value against its type; intrinsics are resolved, not typed. */
  private value(
    problems: TemplateProblem[],
    where: string,
    path: string,
    value: unknown,
    type: PropertyType,
  ) {
    const intrinsic = intrinsicName(value);
    if (intrinsic === 'Fn::If') {
      // Each branch is what CloudFormation deploys where the condition does or does not hold.
      const args = (value as Obj)[intrinsic];
      if (!Array.isArray(args) || args.length !== 3) {
        this.report(
          problems,
          ProblemCode.WRONG_SHAPE,
          where,
          path,
          'Fn::If takes [condition, value if true, value if false]',
        );
        return;
      }
      this.condition(problems, where, `${path}.Fn::If[0]`, args[0]);
      for (const branch of [1, 2]) {
        if (intrinsicName(args[branch]) === 'Ref' && (args[branch] as Obj).Ref === 'AWS::NoValue') continue;
        this.value(problems, where, `${path}.Fn::If[${branch}]`, args[branch], type);
      }
      return;
    }
    if (intrinsic) {
      this.references(problems, where, path, value);
      return;
    }
    switch (type.type) {
      case 'json':
      case 'tag':
        this.references(problems, where, path, value);
        return;
      case 'array':
        if (!Array.isArray(value)) {
          this.report(
            problems,
            ProblemCode.WRONG_SHAPE,
            where,
            path,
            `expected ${describe(type)}, got ${JSON.stringify(value)}`,
          );
          return;
        }
        for (const [i, item] of value.entries())
          this.value(problems, where, `${path}[${i}]`, item, type.element);
        return;
      case 'map':
        if (!isObj(value)) {
          this.report(
            problems,
            ProblemCode.WRONG_SHAPE,
            where,
            path,
            `expected ${describe(type)}, got ${JSON.stringify(value)}`,
          );
          return;
        }
        for (const [key, item] of Object.entries(value))
          this.value(problems, where, `${path}.${key}`, item, type.element);
        return;
      case 'ref': {
        if (!isObj(value)) {
          this.report(
            problems,
            ProblemCode.WRONG_SHAPE,
            where,
            path,
            `expected ${describe(type)}, got ${JSON.stringify(value)}`,
          );
          return;
        }
        this.properties(
          problems,
          where,
          path,
          value,
          specDb().get('typeDefinition', type.reference).properties,
        );
        return;
      }
      case 'union': {
        // Whichever alternative fits; if none does, the closest one's problems.
        let closest: TemplateProblem[] | undefined;
        for (const alternative of type.types) {
          const found: TemplateProblem[] = [];
          this.value(found, where, path, value, alternative);
          if (found.length === 0) return;
          if (!closest || found.length < closest.length) closest = found;
        }
        problems.push(...(closest ?? []));
        return;
      }
      default:
        if (typeof value === 'object' && value !== null) {
          this.report(
            problems,
            ProblemCode.WRONG_SHAPE,
            where,
            path,
            `expected ${describe(type)}, got ${JSON.stringify(value)}`,
          );
          return;
        }
        if ('allowedValues' in type && type.allowedValues && typeof value === 'string') {
          const allowed: readonly (string | number)[] = type.allowedValues;
          const literal = type.type === 'integer' ? Number(value) : value;
          if (!allowed.includes(literal)) {
            this.report(
              problems,
              ProblemCode.NOT_ALLOWED,
              where,
              path,
              `${JSON.stringify(value)} is not one of ${allowed.join(', ')}${suggestion(value, allowed.map(String))}`,
            );
          }
        }
    }
  }

  private condition(problems: TemplateProblem[], where: string, path: string, name: unknown) {
    if (name === undefined) return;
    if (typeof name !== 'string' || !(name in this.conditions)) {
      this.report(
        problems,
        ProblemCode.UNKNOWN_CONDITION,
        where,
        path,
        `condition ${JSON.stringify(name)} is not declared in Conditions${typeof name === 'string' ? suggestion(name, Object.keys(this.conditions)) : ''}`,
      );
    }
  }

  private ref(problems: TemplateProblem[], where: string, path: string, name: unknown) {
    if (typeof name !== 'string') {
      this.report(
        problems,
        ProblemCode.WRONG_SHAPE,
        where,
        path,
        `Ref takes a name, got ${JSON.stringify(name)}`,
      );
      return;
    }
    if (name in this.resources || name in this.parameters || PSEUDO_PARAMETERS.has(name)) return;
    const known = [...Object.keys(this.resources), ...Object.keys(this.parameters)];
    this.report(
      problems,
      ProblemCode.UNKNOWN_REFERENCE,
      where,
      path,
      `Ref ${name}: no such resource or parameter${suggestion(name, known)}`,
    );
  }

  private getAtt(problems: TemplateProblem[], where: string, path: string, args: unknown) {
    const [target, attribute] =
      typeof args === 'string'
        ? [args.slice(0, args.indexOf('.')), args.slice(args.indexOf('.') + 1)]
        : Array.isArray(args)
          ? args
          : [];
    if (typeof target !== 'string' || attribute === undefined) {
      this.report(
        problems,
        ProblemCode.WRONG_SHAPE,
        where,
        path,
        `Fn::GetAtt takes [resource, attribute], got ${JSON.stringify(args)}`,
      );
      return;
    }
    const resource = this.resources[target];
    if (!isObj(resource)) {
      this.report(
        problems,
        ProblemCode.UNKNOWN_REFERENCE,
        where,
        path,
        `Fn::GetAtt ${target}: no such resource${suggestion(target, Object.keys(this.resources))}`,
      );
      return;
    }
    // An attribute chosen by a parameter: known only at deploy time.
    if (typeof attribute !== 'string') {
      this.references(problems, where, `${path}[1]`, attribute);
      return;
    }
    const type = String(resource.Type);
    if (isCustom(type)) return;
    if (type === 'AWS::CloudFormation::Stack' && attribute.startsWith('Outputs.')) return;
    const attributes = resourceSpec(type)?.attributes;
    // An unknown type is reported where the resource is declared.
    if (attributes && !(attribute in attributes)) {
      const known = Object.keys(attributes);
      this.report(
        problems,
        ProblemCode.UNKNOWN_ATTRIBUTE,
        where,
        path,
        `Fn::GetAtt ${target}.${attribute}: ${type} has no attribute ${attribute}${suggestion(attribute, known)} (it has: ${known.join(', ') || 'none'})`,
      );
    }
  }

  /** Every Ref, GetAtt, Sub variable and condition under `value` resolves to something declared. */
  private references(
    problems: TemplateProblem[],
    where: string,
    path: string,
    value: unknown,
    inConditions = false,
  ) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries())
        this.references(problems, where, `${path}[${i}]`, item, inConditions);
      return;
    }
    if (!isObj(value)) return;
    const intrinsic = intrinsicName(value);
    const args = intrinsic ? value[intrinsic] : undefined;
    if (intrinsic === 'Ref') return this.ref(problems, where, path, args);
    if (intrinsic === 'Fn::GetAtt') return this.getAtt(problems, where, path, args);
    if (intrinsic === 'Fn::If' && Array.isArray(args)) {
      this.condition(problems, where, `${path}.Fn::If[0]`, args[0]);
      this.references(problems, where, `${path}.Fn::If`, args.slice(1), inConditions);
      return;
    }
    if (intrinsic === 'Fn::Sub') return this.sub(problems, where, path, args);
    // Inside Conditions, { Condition: name } names another condition.
    if (inConditions && Object.keys(value).length === 1 && 'Condition' in value) {
      return this.condition(problems, where, `${path}.Condition`, value.Condition);
    }
    for (const [key, item] of Object.entries(value))
      this.references(problems, where, `${path}.${key}`, item, inConditions);
  }

  private sub(problems: TemplateProblem[], where: string, path: string, args: unknown) {
    const [text, variables] = Array.isArray(args) ? args : [args, {}];
    const local = isObj(variables) ? variables : {};
    this.references(problems, where, `${path}.Fn::Sub[1]`, local);
    if (typeof text !== 'string') return;
    // ${Name} is a Ref, ${Name.Attribute} a GetAtt, ${!Literal} text.
    for (const [, name] of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
      if (!name || name in local) continue;
      const dot = name.indexOf('.');
      if (dot > 0 && !PSEUDO_PARAMETERS.has(name))
        this.getAtt(problems, where, `${path}.Fn::Sub`, [name.slice(0, dot), name.slice(dot + 1)]);
      else this.ref(problems, where, `${path}.Fn::Sub`, name);
    }
  }
}

/** Every problem CloudFormation's resource schemas find in `template`; none when it is sound. */
export function checkTemplate(template: unknown): TemplateProblem[] {
  if (!isObj(template)) {
    return [{ code: ProblemCode.BAD_RESOURCE, where: 'template', path: '', message: 'is not an object' }];
  }
  return new TemplateChecker(template).check();
}

/** One line per problem: `<where> <path>: <message> [CODE]`. */
export function formatProblems(problems: readonly TemplateProblem[]): string {
  return problems.map((p) => `${p.where}${p.path ? ` ${p.path}` : ''}: ${p.message} [${p.code}]`).join('\n');
}
