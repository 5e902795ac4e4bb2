import { LocalStackError } from '../lib/errors.ts';

/**
 * EventBridge event patterns, the part the embedded stack implements: a pattern is an
 * object whose leaves are arrays of exact values (string, number, boolean, null), any one
 * of which matches (OR), and whose nested objects match nested fields of the event (AND
 * across fields). An event field that is an array matches when any of its values does.
 * Everything else EventBridge offers (content filters such as prefix, anything-but,
 * exists, numeric, wildcard; `$or`) is refused by `checkEventPattern`, so a rule that
 * needs it fails loudly at stack start instead of matching differently than on AWS.
 */
export type EventPattern = { readonly [field: string]: EventPattern | readonly Exact[] };
type Exact = string | number | boolean | null;

/** Validate `pattern` (the parsed EventPattern of `where`); throws LocalStackError naming the path. */
export function checkEventPattern(pattern: unknown, where: string): EventPattern {
  const check = (node: unknown, path: string): void => {
    if (!isObject(node)) throw refused(where, path, 'a pattern level must be an object');
    const fields = Object.keys(node);
    if (fields.length === 0) throw refused(where, path, 'an empty object matches nothing here');
    for (const field of fields) {
      const value = node[field];
      const at = path ? `${path}.${field}` : field;
      if (field.startsWith('$')) throw refused(where, at, `the ${field} operator is not implemented`);
      if (Array.isArray(value)) {
        if (value.length === 0) throw refused(where, at, 'an empty list matches nothing');
        for (const item of value) {
          if (isObject(item)) {
            const filter = Object.keys(item)[0] ?? '{}';
            throw refused(where, at, `the content filter "${filter}" is not implemented`);
          }
          if (Array.isArray(item)) throw refused(where, at, 'a list inside a list is not a pattern');
        }
      } else if (isObject(value)) {
        check(value, at);
      } else {
        throw refused(where, at, `a leaf must be a list of values, not ${JSON.stringify(value)}`);
      }
    }
  };
  check(pattern, '');
  return pattern as EventPattern;
}

/** Whether `event` matches a pattern `checkEventPattern` accepted. */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  if (!isObject(event)) return false;
  return Object.entries(pattern).every(([field, expected]) => {
    if (!(field in event)) return false;
    const actual = event[field];
    if (!Array.isArray(expected)) return matchesEventPattern(expected as EventPattern, actual);
    const values = Array.isArray(actual) ? actual : [actual];
    return values.some((value) => (expected as readonly Exact[]).some((wanted) => wanted === value));
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function refused(where: string, path: string, why: string): LocalStackError {
  return new LocalStackError(
    `${where}: EventPattern${path ? ` at ${path}` : ''}: ${why} (the embedded stack implements exact values, lists of them and nested fields only)`,
  );
}
