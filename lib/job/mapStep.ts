/**
 * Map steps: a step run once per item of an upstream step's output, a list known only at
 * run time. The plan holds the map step itself; its items (`process[0]`, `process[1]`, …,
 * or `process[<key>]` from the user's key function) are written when the upstream step's
 * output is recorded (lib/step/mapExpansion.ts), and each resolves to the map's spec here.
 */
import { InvalidJobError, MapItemsInvalidError } from '../errors.ts';
import type { MapRef, PlainRef, StepOptions } from './stepTypes.ts';

export type { MapRef } from './stepTypes.ts';

/** Items one map step may have. */
export const MAX_MAP_ITEMS = 100_000;

/** What a user's item key may be: it becomes part of the item's step key. */
const ITEM_LABEL = /^[A-Za-z0-9_.-]{1,100}$/;

/** Options of a map step, whatever it maps over (MapOptions, NestedMapOptions). */
interface MapStepOptions<T, I = unknown> extends StepOptions<I> {
  /** Items running at once; default: all. A finished item (succeeded or failed) starts the next. */
  readonly maxConcurrency?: number;
  /**
   * Failed items the map tolerates (a count, or a percentage such as `'5%'` of its items);
   * past it the map step fails. Default 0. A collector reads only the succeeded items' outputs.
   */
  readonly toleratedFailures?: number | `${number}%`;
  /** A stable, readable key per item (`process[<key>]`); default its index (`process[17]`). */
  readonly itemKey?: (item: T, index: number) => string;
}

export interface MapOptions<T, I = unknown> extends MapStepOptions<T, I> {
  /** The upstream step whose output (an array, or an async iterable) is fanned out over. */
  readonly over: PlainRef<readonly T[] | AsyncIterable<T>>;
}

/**
 * A map nested in another (one level): `over` is a map step whose items each return an
 * array, and this map runs once per element of each, once the outer map has ended. Item
 * `inner[i][j]` is element `j` of outer item `i`'s output (`i` the outer item's own label:
 * its index, or its key function's name; `j` this map's index or key function's name, within
 * its outer item). A collector receives the outputs flat, in (i, j) order.
 */
export interface NestedMapOptions<T, I = unknown> extends MapStepOptions<T, I> {
  readonly over: MapRef<readonly T[]>;
}

/** A map step as the plan keeps it. */
export interface MapSpec {
  readonly over: string;
  readonly maxConcurrency?: number;
  readonly toleratedFailures?: number | string;
  readonly itemKey?: (item: unknown, index: number) => string;
}

export const itemKeyOf = (map: string, label: string | number) => `${map}[${label}]`;

/** An item's own label (`process[17]` -> `17`, `inner[a][2]` of map `inner` -> `a][2`). */
export const itemLabelOf = (map: string, itemKey: string) => itemKey.slice(map.length + 1, -1);

/** The map step an item key belongs to (`process[17]` -> `process`), or undefined for a plain step key. */
export function mapOfItem(key: string): string | undefined {
  const open = key.indexOf('[');
  return open > 0 && key.endsWith(']') ? key.slice(0, open) : undefined;
}

/**
 * Item keys of a map over `items`, in item order; a user key that is invalid or repeated is
 * an error. `prefix`: what the keys begin with (the map's key, or for a nested map's items of
 * one outer item, `inner[i]`).
 */
export function itemKeys(map: string, spec: MapSpec, items: readonly unknown[], prefix = map): string[] {
  if (!spec.itemKey) return items.map((_, i) => itemKeyOf(prefix, i));
  const seen = new Set<string>();
  return items.map((item, i) => {
    const label = (spec.itemKey as (item: unknown, index: number) => string)(item, i);
    if (typeof label !== 'string' || !ITEM_LABEL.test(label) || seen.has(label)) {
      throw new MapItemsInvalidError(
        map,
        `item ${prefix === map ? i : `${i} of ${prefix}`}: its key ${JSON.stringify(label)} is ${seen.has(label) ? 'repeated' : 'not 1-100 letters, digits, _ . or -'}`,
      );
    }
    seen.add(label);
    return itemKeyOf(prefix, label);
  });
}

/** Failed items a map of `items` tolerates. */
export function toleratedFailures(spec: MapSpec, items: number): number {
  const tolerated = spec.toleratedFailures ?? 0;
  if (typeof tolerated === 'number') return tolerated;
  return Math.floor((items * Number.parseFloat(tolerated)) / 100);
}

/** Options a map step can get wrong in plain JavaScript. */
export function checkMapSpec(job: string, key: string, spec: MapSpec): void {
  const bad = (what: string) => {
    throw new InvalidJobError(job, `map step '${key}': ${what}`, [key]);
  };
  const { maxConcurrency, toleratedFailures: tolerated } = spec;
  if (maxConcurrency !== undefined && !(Number.isInteger(maxConcurrency) && maxConcurrency > 0))
    bad(`maxConcurrency must be a positive whole number, got ${maxConcurrency}`);
  if (typeof tolerated === 'number' && !(Number.isInteger(tolerated) && tolerated >= 0))
    bad(`toleratedFailures must be a whole number of items or a percentage, got ${tolerated}`);
  if (typeof tolerated === 'string') {
    const percent = /^(\d+(\.\d+)?)%$/.exec(tolerated);
    if (!percent || Number(percent[1]) > 100)
      bad(`toleratedFailures must be a whole number of items or a percentage, got '${tolerated}'`);
  }
  if (spec.itemKey !== undefined && typeof spec.itemKey !== 'function') bad('itemKey must be a function');
}
