import { QueryApiError } from './queryProtocol.ts';

/**
 * A CloudFormation template as the engine reads it: its resources in dependency order and
 * the intrinsic functions our templates use (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If,
 * Fn::Select, Fn::Split, conditions with Fn::Equals/And/Or/Not, AWS::NoValue), evaluated
 * against what is already provisioned.
 */
export interface Template {
  readonly Resources: Readonly<Record<string, TemplateResource>>;
  readonly Outputs?: Readonly<Record<string, TemplateOutput>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Parameters?: Readonly<Record<string, { Default?: unknown }>>;
  readonly Description?: string;
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
  readonly DeletionPolicy?: string;
}

export interface TemplateOutput {
  readonly Value: unknown;
  readonly Description?: string;
  readonly Condition?: string;
  readonly Export?: { Name: unknown };
}

/** What `Ref` and `Fn::GetAtt` give for a resource that exists. */
export interface ResourceValues {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Where an intrinsic is evaluated: the stack's pseudo parameters, its resources, its conditions. */
export interface EvaluationScope {
  readonly pseudo: Readonly<Record<string, string>>;
  readonly parameters: Readonly<Record<string, string>>;
  resource(logicalId: string): ResourceValues | undefined;
  condition(name: string): boolean;
}

/** A template error CloudFormation reports as a ValidationError (the deploy fails before any change). */
export function templateError(message: string): QueryApiError {
  return new QueryApiError('ValidationError', `Template format error: ${message}`);
}

export function parseTemplate(body: string): Template {
  let template: Template;
  try {
    template = JSON.parse(body) as Template;
  } catch (error) {
    throw templateError(`JSON not well-formed. (${(error as Error).message})`);
  }
  if (!template || typeof template.Resources !== 'object' || template.Resources === null) {
    throw templateError('At least one Resources member must be defined.');
  }
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (typeof resource?.Type !== 'string')
      throw templateError(`[/Resources/${id}] Every Resources object must contain a Type member.`);
  }
  return template;
}

const NO_VALUE = Symbol('AWS::NoValue');

/** The template's Conditions, evaluated once each. */
export function evaluateConditions(
  template: Template,
  scope: Omit<EvaluationScope, 'condition'>,
): Map<string, boolean> {
  const definitions = template.Conditions ?? {};
  const values = new Map<string, boolean>();
  const holds = (name: string, seen: readonly string[]): boolean => {
    const known = values.get(name);
    if (known !== undefined) return known;
    if (seen.includes(name))
      throw templateError(`Circular dependency between conditions: ${[...seen, name].join(', ')}`);
    if (!(name in definitions)) throw templateError(`Unresolved condition dependency ${name}`);
    const value = truth(definitions[name], [...seen, name]);
    values.set(name, value);
    return value;
  };
  const truth = (expression: unknown, seen: readonly string[]): boolean => {
    const object = (expression ?? {}) as Record<string, unknown>;
    const args = (key: string) => (Array.isArray(object[key]) ? (object[key] as unknown[]) : []);
    if (typeof object.Condition === 'string') return holds(object.Condition, seen);
    if ('Fn::Not' in object) return !truth(args('Fn::Not')[0], seen);
    if ('Fn::And' in object) return args('Fn::And').every((item) => truth(item, seen));
    if ('Fn::Or' in object) return args('Fn::Or').some((item) => truth(item, seen));
    if ('Fn::Equals' in object) {
      const conditionScope = { ...scope, condition: (n: string) => holds(n, seen) };
      const [left, right] = args('Fn::Equals').map((side) => evaluate(side, conditionScope, 'Conditions'));
      return String(left) === String(right);
    }
    throw templateError(`Conditions: cannot evaluate ${JSON.stringify(expression)}`);
  };
  for (const name of Object.keys(definitions)) holds(name, []);
  return values;
}

/** Evaluate every intrinsic in `value`; keys whose value is AWS::NoValue are dropped. */
export function evaluate(value: unknown, scope: EvaluationScope, where: string): unknown {
  const result = evaluateInner(value, scope, where);
  return result === NO_VALUE ? undefined : result;
}

function evaluateInner(value: unknown, scope: EvaluationScope, where: string): unknown {
  if (Array.isArray(value)) {
    return value
      .map((item, i) => evaluateInner(item, scope, `${where}[${i}]`))
      .filter((item) => item !== NO_VALUE);
  }
  if (!value || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  const key = keys[0] as string;
  if (keys.length === 1 && (key === 'Ref' || key.startsWith('Fn::'))) {
    return intrinsic(key, object[key], scope, `${where}.${key}`);
  }
  const entries = keys.map((k) => [k, evaluateInner(object[k], scope, `${where}.${k}`)] as const);
  return Object.fromEntries(entries.filter(([, item]) => item !== NO_VALUE));
}

function intrinsic(name: string, args: unknown, scope: EvaluationScope, where: string): unknown {
  const list = (expected: number) => {
    if (!Array.isArray(args) || args.length < expected)
      throw templateError(`${where}: ${name} takes ${expected} arguments, not ${JSON.stringify(args)}`);
    return args as unknown[];
  };
  switch (name) {
    case 'Ref': {
      if (args === 'AWS::NoValue') return NO_VALUE;
      return refOf(String(args), scope, where);
    }
    case 'Fn::GetAtt': {
      const [id, attribute] = typeof args === 'string' ? splitOnce(args, '.') : (list(2) as [string, string]);
      return attributeOf(String(id), String(attribute), scope, where);
    }
    case 'Fn::Join': {
      const [separator, parts] = list(2) as [string, unknown];
      const items = evaluateInner(parts, scope, where);
      if (!Array.isArray(items)) throw templateError(`${where}: Fn::Join needs a list`);
      return items.map(String).join(separator);
    }
    case 'Fn::Sub': {
      const [text, variables] =
        typeof args === 'string' ? [args, {}] : (list(1) as [string, Record<string, unknown>?]);
      const values = (evaluateInner(variables ?? {}, scope, where) ?? {}) as Record<string, unknown>;
      return String(text).replace(/\$\{([^}]+)\}/g, (_whole, expression: string) => {
        if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
        if (expression in values) return String(values[expression]);
        const dot = expression.indexOf('.');
        if (dot > 0 && !expression.startsWith('AWS::'))
          return attributeOf(expression.slice(0, dot), expression.slice(dot + 1), scope, where);
        return refOf(expression, scope, where);
      });
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = list(3);
      return evaluateInner(scope.condition(String(condition)) ? whenTrue : whenFalse, scope, where);
    }
    case 'Fn::Select': {
      const [index, items] = list(2);
      const evaluated = evaluateInner(items, scope, where);
      const found = Array.isArray(evaluated)
        ? evaluated[Number(evaluateInner(index, scope, where))]
        : undefined;
      if (found === undefined) throw templateError(`${where}: Fn::Select index out of range`);
      return found;
    }
    case 'Fn::Split': {
      const [separator, text] = list(2);
      return String(evaluateInner(text, scope, where)).split(String(separator));
    }
    case 'Fn::Equals':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Fn::Not':
      return evaluateConditions({ Resources: {}, Conditions: { _: { [name]: args } } }, scope).get('_');
    default:
      throw templateError(`${where}: the embedded stack does not evaluate ${name}`);
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

function refOf(id: string, scope: EvaluationScope, where: string): string {
  const pseudo = scope.pseudo[id] ?? scope.parameters[id];
  if (pseudo !== undefined) return pseudo;
  const resource = scope.resource(id);
  if (!resource)
    throw templateError(
      `${where}: Unresolved resource dependencies [${id}] in the Resources block of the template`,
    );
  return resource.ref;
}

function attributeOf(id: string, attribute: string, scope: EvaluationScope, where: string): string {
  const resource = scope.resource(id);
  if (!resource)
    throw templateError(
      `${where}: Unresolved resource dependencies [${id}] in the Resources block of the template`,
    );
  const value = resource.attributes[attribute];
  if (value === undefined) throw templateError(`${where}: ${id} has no attribute ${attribute} here`);
  return value;
}

/** The resources a value refers to: Ref, Fn::GetAtt and `${...}` in Fn::Sub. */
export function referencesOf(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) referencesOf(item, into);
    return into;
  }
  if (!value || typeof value !== 'object') return into;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'Ref' && typeof item === 'string') into.add(item);
    else if (key === 'Fn::GetAtt')
      into.add(typeof item === 'string' ? splitOnce(item, '.')[0] : String((item as unknown[])[0]));
    else if (key === 'Fn::Sub') {
      const [text, variables] =
        typeof item === 'string' ? [item, {}] : (item as [string, Record<string, unknown>?]);
      for (const [, expression] of String(text).matchAll(/\$\{([^}!]+)\}/g)) {
        const name = (expression as string).split('.')[0] as string;
        if (!variables || !(name in variables)) into.add(name);
      }
      referencesOf(variables, into);
    } else referencesOf(item, into);
  }
  return into;
}

/**
 * The template's resources in an order where each comes after what it refers to and what
 * it DependsOn (CloudFormation creates in this order; deletes in its reverse).
 */
export function creationOrder(resources: Readonly<Record<string, TemplateResource>>): string[] {
  const ids = new Set(Object.keys(resources));
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: readonly string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting')
      throw templateError(`Circular dependency between resources: [${[...path, id].join(', ')}]`);
    state.set(id, 'visiting');
    const resource = resources[id] as TemplateResource;
    const dependsOn = resource.DependsOn === undefined ? [] : ([] as string[]).concat(resource.DependsOn);
    for (const dependency of [...referencesOf(resource.Properties), ...dependsOn]) {
      if (!ids.has(dependency)) {
        // A Ref to a pseudo parameter or parameter; an unknown one fails when evaluated.
        if (dependsOn.includes(dependency))
          throw templateError(
            `Unresolved resource dependencies [${dependency}] in the Resources block of the template`,
          );
        continue;
      }
      visit(dependency, [...path, id]);
    }
    state.set(id, 'done');
    ordered.push(id);
  };
  for (const id of ids) visit(id, []);
  return ordered;
}
