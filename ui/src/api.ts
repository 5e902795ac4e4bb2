/** The UI server's JSON API; actions carry the session token the page was served with. */
const token = document.querySelector<HTMLMetaElement>('meta[name="lambdag-token"]')?.content ?? '';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
  }
}

async function parse<T>(response: Response): Promise<T> {
  const body = await response.json();
  if (!response.ok) {
    const error = body?.error ?? {};
    throw new ApiError(error.message ?? response.statusText, response.status, error.issues ?? []);
  }
  return body as T;
}

export function get<T>(path: string): Promise<T> {
  return fetch(path).then((r) => parse<T>(r));
}

export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-lambdag-token': token },
    body: JSON.stringify(body),
  }).then((r) => parse<T>(r));
}

export const q = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

export interface Run {
  runId: string;
  job: string;
  status: string;
  stepCount: number;
  succeeded: number;
  failed: number;
  skipped: number;
  createdAt: string;
  finishedAt?: string;
  parentRunId?: string;
  error?: { step?: string; name: string; message: string };
  result?: unknown;
}

export interface Step {
  key: string;
  status: string;
  attempt: number;
  output?: unknown;
  outputKey?: string;
  error?: SerializedError;
  skippedBecause?: string;
  canceledBecause?: string;
  taskArn?: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export interface GraphNode {
  id: string;
  size: number;
  status: string;
  counts: Record<string, number>;
  first?: string;
  last?: string;
}

export interface RunView {
  run: Run;
  graph: { nodes: GraphNode[]; edges: { from: string; to: string }[] };
  planned: boolean;
  steps: Step[];
  stepCount: number;
}

export interface RunEvent {
  type: string;
  at: string;
  step?: string;
  attempt?: number;
  message?: string;
  data?: Record<string, unknown>;
}

export interface Attempt {
  step: string;
  attempt: number;
  queuedAt?: string;
  startedAt?: string;
  endedAt?: string;
  outcome: string;
  error?: SerializedError;
  ecs: boolean;
}

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);

export function duration(from?: string, to?: string): string {
  if (!from) return '';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}
