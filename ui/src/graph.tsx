import { Graph, layout } from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';
import type { GraphNode } from './api.ts';

const NODE_W = 190;
const NODE_H = 46;

/** The run's DAG, laid out by dagre: one box per step or collapsed group, coloured by status. */
export function DagGraph(props: {
  nodes: GraphNode[];
  edges: { from: string; to: string }[];
  selected?: string;
  onSelect: (node: GraphNode) => void;
}) {
  const laid = useMemo(() => {
    const g = new Graph();
    g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 50, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const node of props.nodes) g.setNode(node.id, { width: NODE_W, height: NODE_H });
    for (const edge of props.edges) g.setEdge(edge.from, edge.to);
    layout(g);
    const label = g.graph();
    return {
      width: label.width ?? NODE_W,
      height: label.height ?? NODE_H,
      at: (id: string) => g.node(id),
      points: (from: string, to: string): { x: number; y: number }[] =>
        g.edge({ v: from, w: to })?.points ?? [],
    };
  }, [props.nodes, props.edges]);

  return (
    <svg
      class="dag"
      width={laid.width}
      height={laid.height}
      data-testid="graph"
      role="img"
      aria-label="run graph"
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" fill="#8a94a6" />
        </marker>
      </defs>
      {props.edges.map((edge) => {
        const points = laid.points(edge.from, edge.to);
        const d = points.map((p, i) => `${i ? 'L' : 'M'}${p.x},${p.y}`).join(' ');
        return <path class="edge" data-from={edge.from} data-to={edge.to} d={d} marker-end="url(#arrow)" />;
      })}
      {props.nodes.map((node) => {
        const at = laid.at(node.id);
        const x = (at?.x ?? 0) - NODE_W / 2;
        const y = (at?.y ?? 0) - NODE_H / 2;
        const counts = Object.entries(node.counts)
          .map(([s, n]) => `${n} ${s.toLowerCase()}`)
          .join(' · ');
        return (
          // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>; it acts as one.
          <g
            class={`node ${node.status} ${props.selected === node.id ? 'selected' : ''}`}
            data-node={node.id}
            data-status={node.status}
            data-size={node.size}
            transform={`translate(${x},${y})`}
            role="button"
            tabIndex={0}
            onClick={() => props.onSelect(node)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' || e.key === ' ') props.onSelect(node);
            }}
          >
            <title>{node.size > 1 ? `${node.id}: ${counts}` : `${node.id}: ${node.status}`}</title>
            <rect width={NODE_W} height={NODE_H} rx="6" />
            {node.size > 1 && <rect class="stack" x="4" y="-4" width={NODE_W} height={NODE_H} rx="6" />}
            <text x="10" y="19" class="node-title">
              {node.id.length > 26 ? `${node.id.slice(0, 25)}…` : node.id}
            </text>
            <text x="10" y="36" class="node-sub">
              {node.size > 1 ? `${node.size} steps · ${counts}` : node.status}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
