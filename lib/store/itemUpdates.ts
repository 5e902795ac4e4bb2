import type { Item } from './records.ts';

/**
 * One write to one item of the runs table, declared rather than written as an expression:
 * what it sets, adds, removes, and the condition it is made on. `toExpression` turns it into
 * DynamoDB's UpdateExpression/ConditionExpression (the DynamoDB store), `applyUpdate` applies
 * it to an item in memory (the in-memory store): one declaration, so the two cannot differ.
 */
export interface ItemUpdate {
  /** Fields assigned (undefined values are left out). */
  readonly set?: Readonly<Record<string, unknown>>;
  /** Fields assigned only when absent (`if_not_exists`): a first error stays. */
  readonly setIfAbsent?: Readonly<Record<string, unknown>>;
  /** Numbers added to (an absent field counts as 0), or string-set elements added. */
  readonly add?: Readonly<Record<string, number | ReadonlySet<string>>>;
  /** String-set elements taken out (an emptied set is removed, as DynamoDB does). */
  readonly delete?: Readonly<Record<string, ReadonlySet<string>>>;
  readonly remove?: readonly string[];
}

/**
 * The precondition of a write: the item exists, or (a transition) its status is one of
 * `status` and, when given, its attempt is `attempt`. A missing item fails either.
 */
export type ItemCondition =
  | { readonly exists: true }
  | { readonly status: readonly string[]; readonly attempt?: number };

export interface UpdateExpressionParts {
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

/** DynamoDB expressions for an update: every field through a `#name`, every value through a `:value` prefixed by its clause (`:s_attempt`, the attempt set, is not `:c_attempt`, the attempt required). */
export function toExpression(update: ItemUpdate, condition: ItemCondition): UpdateExpressionParts {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const name = (field: string) => {
    names[`#${field}`] = field;
    return `#${field}`;
  };
  const clauses: string[] = [];
  const sets = [
    ...defined(update.set).map(([field, value]) => {
      values[`:s_${field}`] = value;
      return `${name(field)} = :s_${field}`;
    }),
    ...defined(update.setIfAbsent).map(([field, value]) => {
      values[`:i_${field}`] = value;
      return `${name(field)} = if_not_exists(${name(field)}, :i_${field})`;
    }),
  ];
  if (sets.length) clauses.push(`SET ${sets.join(', ')}`);
  const adds = defined(update.add).map(([field, value]) => {
    values[`:a_${field}`] = value instanceof Set ? new Set(value) : value;
    return `${name(field)} :a_${field}`;
  });
  if (adds.length) clauses.push(`ADD ${adds.join(', ')}`);
  const deletes = defined(update.delete).map(([field, value]) => {
    values[`:d_${field}`] = new Set(value);
    return `${name(field)} :d_${field}`;
  });
  if (deletes.length) clauses.push(`DELETE ${deletes.join(', ')}`);
  if (update.remove?.length) clauses.push(`REMOVE ${update.remove.map(name).join(', ')}`);

  let conditionExpression: string;
  if ('exists' in condition) {
    conditionExpression = 'attribute_exists(pk)';
  } else {
    condition.status.forEach((status, i) => {
      values[`:c_status${i}`] = status;
    });
    const status = name('status');
    const statusClause =
      condition.status.length === 1
        ? `${status} = :c_status0`
        : `${status} IN (${condition.status.map((_, i) => `:c_status${i}`).join(', ')})`;
    if (condition.attempt === undefined) {
      conditionExpression = statusClause;
    } else {
      values[':c_attempt'] = condition.attempt;
      conditionExpression = `${name('attempt')} = :c_attempt AND ${statusClause}`;
    }
  }
  return {
    UpdateExpression: clauses.join(' '),
    ConditionExpression: conditionExpression,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}

/** Whether `item` (undefined: none) meets the condition, as DynamoDB evaluates it. */
export function meets(item: Item | undefined, condition: ItemCondition): item is Item {
  if (!item) return false;
  if ('exists' in condition) return true;
  if (!condition.status.includes(item.status as string)) return false;
  return condition.attempt === undefined || item.attempt === condition.attempt;
}

/** The item after the update (a new object; `item` is left as it is). */
export function applyUpdate(item: Item, update: ItemUpdate): Item {
  const next: Item = { ...item };
  for (const [field, value] of defined(update.set)) next[field] = value;
  for (const [field, value] of defined(update.setIfAbsent)) if (!(field in next)) next[field] = value;
  for (const [field, value] of defined(update.add)) {
    const current = next[field];
    next[field] =
      value instanceof Set
        ? new Set([...((current as Set<string> | undefined) ?? []), ...value])
        : ((current as number | undefined) ?? 0) + (value as number);
  }
  for (const [field, value] of defined(update.delete)) {
    const current = next[field];
    if (!(current instanceof Set)) continue;
    const left = new Set([...current].filter((element) => !value.has(element)));
    if (left.size) next[field] = left;
    else delete next[field];
  }
  for (const field of update.remove ?? []) delete next[field];
  return next;
}

function defined<V>(fields: Readonly<Record<string, V | undefined>> | undefined): [string, V][] {
  return Object.entries(fields ?? {}).filter((entry): entry is [string, V] => entry[1] !== undefined);
}
