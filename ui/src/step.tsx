import { useEffect, useState } from 'preact/hooks';
import {
  type Attempt,
  duration,
  type GraphNode,
  get,
  post,
  q,
  type RunEvent,
  type Step,
  TERMINAL,
} from './api.ts';
import type { Confirmation } from './confirm.tsx';
import { navigate } from './router.tsx';

interface StepDetail {
  step: Step;
  attempts: Attempt[];
  progress: RunEvent[];
  upstream: string[];
  downstream: string[];
  logs: { attempt: number; lines: { at: string; message: string; fields?: unknown }[]; dropped: number }[];
}

const json = (value: unknown) => JSON.stringify(value, null, 2);
const kib = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

/** One step: attempts with their errors and stacks, its input sources, output, progress and log lines. */
export function StepPanel(props: {
  runId: string;
  stepKey: string;
  runStatus: string;
  /** Changes when the run does: the panel reads the step again. */
  version: string;
  onConfirm: (c: Confirmation) => void;
}) {
  const { runId, stepKey } = props;
  const [detail, setDetail] = useState<StepDetail>();
  const [output, setOutput] = useState<{ size: number; value: unknown; where: string }>();
  useEffect(() => {
    setOutput(undefined);
    get<StepDetail>(`/api/runs/${runId}/steps/${encodeURIComponent(stepKey)}`).then(setDetail);
  }, [runId, stepKey, props.version]);
  if (!detail || detail.step.key !== stepKey) return <p class="muted">Loading {stepKey}…</p>;
  const { step } = detail;
  const rerunFromHere = (): Confirmation => ({
    title: `Re-execute from ${stepKey}?`,
    body: (
      <p>
        Starts a new run with the same input that runs <b>{stepKey}</b> and everything downstream of it, and
        reuses the outputs of the other steps that succeeded.
      </p>
    ),
    action: 'Start new run',
    run: async () => {
      const started = await post<{ runId: string }>(`/api/runs/${runId}/rerun`, { steps: [stepKey] });
      navigate(`/runs/${started.runId}`);
    },
  });
  return (
    <div class="step-panel" data-testid="step-panel" data-step={stepKey}>
      <h3>
        <span class="mono">{stepKey}</span> <span class={`badge ${step.status}`}>{step.status}</span>
      </h3>
      {TERMINAL.has(props.runStatus) && (
        <button type="button" data-testid="rerun-step" onClick={() => props.onConfirm(rerunFromHere())}>
          Re-execute from this step
        </button>
      )}
      {step.skippedBecause && <p data-testid="skipped-because">Skipped: {step.skippedBecause}</p>}
      {step.canceledBecause && <p>Canceled: {step.canceledBecause}</p>}
      <p class="muted">
        {detail.upstream.length ? `after ${detail.upstream.join(', ')}` : 'a root step'}
        {detail.downstream.length ? ` · before ${detail.downstream.join(', ')}` : ''}
        {step.taskArn ? ` · ECS task ${step.taskArn.split('/').at(-1)}` : ''}
      </p>
      <h4>Attempts</h4>
      {detail.attempts.length === 0 && <p class="muted">Not started.</p>}
      {detail.attempts.map((a) => (
        <div class="attempt" data-attempt={a.attempt} data-outcome={a.outcome}>
          <div>
            #{a.attempt} <span class={`badge ${a.outcome}`}>{a.outcome}</span>{' '}
            {a.ecs ? <span class="ecs-tag">ECS</span> : ''}{' '}
            <span class="muted">
              queued {duration(a.queuedAt, a.startedAt)} · ran {duration(a.startedAt, a.endedAt)}
            </span>
          </div>
          {a.error && (
            <div class="error-text" data-testid="step-error">
              {a.error.name}: {a.error.message}
              {a.error.stack && (
                <details>
                  <summary>stack</summary>
                  <pre>{a.error.stack}</pre>
                </details>
              )}
            </div>
          )}
          {detail.logs
            .filter((l) => l.attempt === a.attempt)
            .map((l) => (
              <pre class="log" data-testid="step-log">
                {l.lines
                  .map(
                    (line) =>
                      `${line.at.slice(11, 23)} ${line.message}${line.fields ? ` ${JSON.stringify(line.fields)}` : ''}`,
                  )
                  .join('\n')}
                {l.dropped ? `\n… ${l.dropped} more line(s) dropped` : ''}
              </pre>
            ))}
        </div>
      ))}
      <h4>Output</h4>
      {step.status !== 'SUCCEEDED' ? (
        <p class="muted">None.</p>
      ) : step.outputKey ? (
        output ? (
          <>
            <p class="muted">
              {kib(output.size)} from S3 ({output.where})
            </p>
            <pre class="json">{json(output.value)}</pre>
          </>
        ) : (
          <button
            type="button"
            onClick={async () =>
              setOutput(await get(`/api/runs/${runId}/steps/${encodeURIComponent(stepKey)}/output`))
            }
          >
            Load output from S3
          </button>
        )
      ) : (
        <>
          <p class="muted">{kib(JSON.stringify(step.output ?? null).length)} inline</p>
          <pre class="json" data-testid="step-output">
            {json(step.output)}
          </pre>
        </>
      )}
      {detail.progress.length > 0 && (
        <>
          <h4>Progress</h4>
          <ul>
            {detail.progress.map((p) => (
              <li>
                {p.at.slice(11, 19)} {p.message}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

/** A collapsed fan-out: its counts, and its steps a page at a time. */
export function GroupPanel(props: { runId: string; node: GraphNode; onPick: (key: string) => void }) {
  const { runId, node } = props;
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{ steps: Step[]; total: number }>();
  useEffect(() => {
    get<{ steps: Step[]; total: number }>(
      `/api/runs/${runId}/steps${q({ group: node.id, offset, limit: 50 })}`,
    ).then(setPage);
  }, [runId, node.id, offset]);
  return (
    <div class="step-panel" data-testid="group-panel">
      <h3 class="mono">{node.id}</h3>
      <p>
        {Object.entries(node.counts)
          .map(([s, n]) => `${n} ${s.toLowerCase()}`)
          .join(' · ')}
      </p>
      <ul class="members">
        {page?.steps.map((s) => (
          <li>
            <button type="button" class="link" onClick={() => props.onPick(s.key)}>
              {s.key}
            </button>{' '}
            <span class={`badge ${s.status}`}>{s.status}</span>
          </li>
        ))}
      </ul>
      {page && (
        <div class="pager">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            Previous
          </button>
          <span class="muted">
            {offset + 1}–{Math.min(offset + 50, page.total)} of {page.total}
          </span>
          <button type="button" disabled={offset + 50 >= page.total} onClick={() => setOffset(offset + 50)}>
            Next
          </button>
        </div>
      )}
    </div>
  );
}
