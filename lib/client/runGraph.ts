import type { JobPlan } from '../job/dag.ts';
import type { StepStatus } from '../status.ts';
import type { StepRecord } from '../store/types.ts';

/** A node of a run's graph: one step, or a group of same-shaped steps (a fan-out) with its counts. */
export interface GraphNode {
  /** The step key, or the group's name (`square-[0..999]`). */
  readonly id: string;
  /** Steps in this node, in plan order (one for a plain step). */
  readonly size: number;
  /** How many of its steps are in each status. */
  readonly counts: Partial<Record<StepStatus, number>>;
  /** The node's status: its step's, or for a group the most telling of its steps' (see STATUS_WEIGHT). */
  readonly status: StepStatus;
  /** The group's first and last step keys (absent for a plain step). */
  readonly first?: string;
  readonly last?: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
}

export interface RunGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
}

/** Fewer same-shaped steps than this are drawn one by one. */
export const MIN_GROUP = 3;

/** A group shows the status that needs the user's eye first. */
const STATUS_WEIGHT: Record<StepStatus, number> = {
  FAILED: 7,
  RUNNING: 6,
  QUEUED: 5,
  CANCELED: 4,
  WAITING: 3,
  SKIPPED: 2,
  SUCCEEDED: 1,
};

/** `square-12` -> `square-`, `work[3]` -> `work[`: the key without its trailing index. */
function stemOf(key: string): { stem: string; index?: number } {
  const match = /^(.*?[^0-9])?([0-9]+)\]?$/.exec(key);
  if (!match?.[1]) return { stem: key };
  return { stem: match[1], index: Number(match[2]) };
}

/**
 * The graph a run page draws: the plan's steps and edges, with every set of at least
 * MIN_GROUP steps that share a stem (`square-0`, `square-1`, ...) and the same upstream
 * and downstream steps collapsed into one node with its counts. A 10,000-step fan-out is
 * three nodes, not 10,000 boxes.
 */
export function runGraph(
  plan: JobPlan,
  steps: ReadonlyMap<string, StepRecord>,
  groupOf: ReadonlyMap<string, string> = groupSteps(plan),
): RunGraph {
  const members = new Map<string, string[]>();
  for (const key of plan.order) {
    const id = groupOf.get(key) ?? key;
    const list = members.get(id) ?? [];
    list.push(key);
    members.set(id, list);
  }
  const nodes: GraphNode[] = [];
  for (const [id, keys] of members) {
    const counts: Partial<Record<StepStatus, number>> = {};
    for (const key of keys) {
      const status = steps.get(key)?.status ?? 'WAITING';
      counts[status] = (counts[status] ?? 0) + 1;
    }
    const status = (Object.keys(counts) as StepStatus[]).reduce((a, b) =>
      STATUS_WEIGHT[a] >= STATUS_WEIGHT[b] ? a : b,
    );
    nodes.push(
      keys.length === 1
        ? { id, size: 1, counts, status }
        : { id, size: keys.length, counts, status, first: keys[0], last: keys.at(-1) },
    );
  }
  const edges = new Map<string, GraphEdge>();
  for (const key of plan.order) {
    const to = groupOf.get(key) ?? key;
    for (const up of plan.upstream.get(key) ?? []) {
      const from = groupOf.get(up) ?? up;
      edges.set(`${from}\u0000${to}`, { from, to });
    }
  }
  return { nodes, edges: [...edges.values()] };
}

/** Step key -> group name, for the steps that collapse (see runGraph). */
export function groupSteps(plan: JobPlan): Map<string, string> {
  const byShape = new Map<string, { key: string; index: number }[]>();
  for (const key of plan.order) {
    const { stem, index } = stemOf(key);
    if (index === undefined) continue;
    const shape = [
      stem,
      [...(plan.upstream.get(key) ?? [])].sort().join(','),
      [...(plan.dependents.get(key) ?? [])].sort().join(','),
    ].join('\u0000');
    const list = byShape.get(shape) ?? [];
    list.push({ key, index });
    byShape.set(shape, list);
  }
  const groups = new Map<string, string>();
  const used = new Set<string>();
  for (const list of byShape.values()) {
    if (list.length < MIN_GROUP) continue;
    const { stem } = stemOf(list[0]?.key ?? '');
    const indices = list.map((m) => m.index);
    let name = `${stem.endsWith('[') ? stem.slice(0, -1) : stem}[${Math.min(...indices)}..${Math.max(...indices)}]`;
    // Two groups of one stem (different neighbours): keep their names apart.
    while (used.has(name)) name = `${name}'`;
    used.add(name);
    for (const member of list) groups.set(member.key, name);
  }
  return groups;
}

/** Step keys in plan (topological) order, with the steps the plan does not know (if any) after them. */
export function planOrder(plan: JobPlan | undefined, keys: Iterable<string>): string[] {
  const present = new Set(keys);
  if (!plan) return [...present];
  const known = new Set(plan.order);
  return [...plan.order.filter((key) => present.has(key)), ...[...present].filter((key) => !known.has(key))];
}
