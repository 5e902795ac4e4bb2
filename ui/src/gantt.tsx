import type { Attempt } from './api.ts';

const ROW = 20;
const LABEL = 170;
const WIDTH = 900;

/**
 * The attempts on a time axis: queued time (hatched) apart from running time, each retry a
 * bar of its own, ECS attempts marked. Bars are the server's first page of attempts.
 */
export function Gantt(props: { attempts: Attempt[]; total: number; runStart: string; runEnd?: string }) {
  const { attempts } = props;
  if (!attempts.length) return <p class="muted">No attempt has started yet.</p>;
  const t0 = Date.parse(props.runStart);
  const ends = attempts.map((a) => Date.parse(a.endedAt ?? a.startedAt ?? props.runStart));
  const t1 = Math.max(props.runEnd ? Date.parse(props.runEnd) : Date.now(), ...ends, t0 + 1);
  const scale = (WIDTH - LABEL - 10) / (t1 - t0);
  const x = (iso: string | undefined) => LABEL + ((iso ? Date.parse(iso) : t1) - t0) * scale;
  return (
    <div>
      <svg
        class="gantt"
        width={WIDTH}
        height={attempts.length * ROW + 24}
        data-testid="timeline"
        role="img"
        aria-label="timeline of attempts"
      >
        <text x={LABEL} y="12" class="axis">
          0
        </text>
        <text x={WIDTH - 10} y="12" class="axis" text-anchor="end">
          {((t1 - t0) / 1000).toFixed(1)} s
        </text>
        {attempts.map((a, i) => {
          const y = 20 + i * ROW;
          const queued = a.queuedAt && a.startedAt ? [x(a.queuedAt), x(a.startedAt)] : undefined;
          const start = x(a.startedAt);
          const end = Math.max(start + 2, x(a.endedAt));
          return (
            <g class="bar-row" data-step={a.step} data-attempt={a.attempt} data-outcome={a.outcome}>
              <title>
                {`${a.step} attempt ${a.attempt}: ${a.outcome}${a.ecs ? ' (ECS)' : ''}, queued ${a.queuedAt ?? '?'}, ran ${a.startedAt} → ${a.endedAt ?? 'now'}`}
              </title>
              <text x="4" y={y + 13} class="bar-label">
                {a.step.length > 20 ? `${a.step.slice(0, 19)}…` : a.step}
                {a.attempt > 1 ? ` #${a.attempt}` : ''}
              </text>
              {queued && (
                <rect
                  class="queued"
                  x={queued[0]}
                  y={y + 3}
                  width={Math.max(1, (queued[1] ?? 0) - (queued[0] ?? 0))}
                  height={ROW - 6}
                />
              )}
              <rect
                class={`run ${a.outcome}`}
                x={start}
                y={y + 2}
                width={end - start}
                height={ROW - 4}
                rx="2"
              />
              {a.ecs && (
                <text x={end + 3} y={y + 13} class="ecs-mark">
                  ECS
                </text>
              )}
            </g>
          );
        })}
      </svg>
      {props.total > attempts.length && (
        <p class="muted">
          Showing the first {attempts.length} of {props.total} attempts.
        </p>
      )}
      <p class="legend">
        <span class="swatch queued" /> queued <span class="swatch run SUCCEEDED" /> succeeded{' '}
        <span class="swatch run RETRIED" /> retried <span class="swatch run FAILED" /> failed{' '}
        <span class="swatch run RUNNING" /> running
      </p>
    </div>
  );
}
