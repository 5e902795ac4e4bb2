import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import {
  type Attempt,
  duration,
  type GraphNode,
  get,
  post,
  q,
  type RunEvent,
  type RunView,
  TERMINAL,
} from './api.ts';
import { type Confirmation, ConfirmDialog } from './confirm.tsx';
import { Gantt } from './gantt.tsx';
import { DagGraph } from './graph.tsx';
import { navigate } from './router.tsx';
import { GroupPanel, StepPanel } from './step.tsx';

const EVENTS_PAGE = 100;
const TIMELINE_BARS = 200;
/** The event log keeps this many lines in the page; older ones are dropped as new ones come. */
const MAX_EVENT_LINES = 1_000;

/** A run: actions, its graph, its timeline, its event log (live while the run goes on), a step panel. */
export function RunPage(props: { runId: string }) {
  const { runId } = props;
  const [view, setView] = useState<RunView>();
  const [timeline, setTimeline] = useState<{ attempts: Attempt[]; total: number }>();
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [cursor, setCursor] = useState<string>();
  const [more, setMore] = useState(false);
  const [selected, setSelected] = useState<GraphNode>();
  const [stepKey, setStepKey] = useState<string>();
  const [confirm, setConfirm] = useState<Confirmation>();
  const [error, setError] = useState<string>();
  const [choosing, setChoosing] = useState(false);
  // Following the run's live feed: from a load that found it running until the feed ends,
  // which is after the run's end event (the run's final status comes a moment before it).
  const [following, setFollowing] = useState(false);
  const refreshing = useRef(false);

  const refresh = useCallback(async () => {
    if (refreshing.current) return;
    refreshing.current = true;
    try {
      const [v, t] = await Promise.all([
        get<RunView>(`/api/runs/${runId}`),
        get<{ attempts: Attempt[]; total: number }>(
          `/api/runs/${runId}/timeline${q({ limit: TIMELINE_BARS })}`,
        ),
      ]);
      setView(v);
      setTimeline(t);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      refreshing.current = false;
    }
  }, [runId]);

  // First load: the run, its timeline and the first page of its events.
  useEffect(() => {
    setView(undefined);
    setFollowing(false);
    setEvents([]);
    setSelected(undefined);
    setStepKey(undefined);
    refresh();
    get<{ events: RunEvent[]; cursor?: string }>(
      `/api/runs/${runId}/events${q({ limit: EVENTS_PAGE })}`,
    ).then((page) => {
      setEvents(page.events);
      setCursor(page.cursor ?? '');
      setMore(page.events.length >= EVENTS_PAGE);
    });
  }, [runId, refresh]);

  const running = view !== undefined && !TERMINAL.has(view.run.status);
  useEffect(() => {
    if (running) setFollowing(true);
  }, [running]);
  // Live: one stream from where the log stands; `run` re-reads the graph, `events` appends.
  useEffect(() => {
    if (!following || cursor === undefined) return;
    const source = new EventSource(`/api/live/runs/${runId}${q({ after: cursor })}`);
    source.addEventListener('run', () => refresh());
    source.addEventListener('events', (e) => {
      const page = JSON.parse((e as MessageEvent).data) as { events: RunEvent[] };
      setEvents((old) => [...old, ...page.events].slice(-MAX_EVENT_LINES));
    });
    source.addEventListener('end', () => {
      source.close();
      setFollowing(false);
      refresh();
    });
    return () => source.close();
    // The stream starts from the cursor of the first page only.
  }, [following, runId, cursor === undefined]);

  const loadMore = async () => {
    const page = await get<{ events: RunEvent[]; cursor?: string }>(
      `/api/runs/${runId}/events${q({ limit: EVENTS_PAGE, after: cursor })}`,
    );
    setEvents((old) => [...old, ...page.events].slice(-MAX_EVENT_LINES));
    setCursor(page.cursor ?? cursor);
    setMore(page.events.length >= EVENTS_PAGE);
  };

  if (error && !view) return <p class="error-text">{error}</p>;
  if (!view) return <p class="muted">Loading…</p>;
  const { run } = view;
  const left = run.stepCount - run.succeeded;

  const cancel = (): Confirmation => ({
    title: `Cancel run ${run.runId}?`,
    body: (
      <p>
        The run of <b>{run.job}</b> becomes CANCELING: steps not yet started never start, running steps are
        aborted, and it ends CANCELED.
      </p>
    ),
    action: 'Cancel run',
    run: async () => {
      await post(`/api/runs/${runId}/cancel`, { reason: 'canceled from the UI' });
      await refresh();
    },
  });
  const rerunFromFailure = (): Confirmation => ({
    title: 'Re-execute from failure?',
    body: (
      <p>
        Starts a new run of <b>{run.job}</b> with the same input. It reuses the outputs of the {run.succeeded}{' '}
        steps that succeeded and runs the {left} that did not, with everything downstream of them.
      </p>
    ),
    action: 'Start new run',
    run: async () => {
      const started = await post<{ runId: string }>(`/api/runs/${runId}/rerun`, { fromFailure: true });
      navigate(`/runs/${started.runId}`);
    },
  });

  return (
    <section>
      <div class="toolbar">
        <h2>
          Run <span class="mono">{run.runId}</span>
        </h2>
        <span class={`badge ${run.status}`} data-testid="run-status">
          {run.status}
        </span>
        <span class="spacer" />
        {!TERMINAL.has(run.status) && run.status !== 'CANCELING' && (
          <button type="button" class="danger" data-testid="cancel-run" onClick={() => setConfirm(cancel())}>
            Terminate
          </button>
        )}
        {(run.status === 'FAILED' || run.status === 'CANCELED') && (
          <button type="button" data-testid="rerun-failure" onClick={() => setConfirm(rerunFromFailure())}>
            Re-execute from failure
          </button>
        )}
        {TERMINAL.has(run.status) && view.planned && (
          <button type="button" data-testid="rerun-steps" onClick={() => setChoosing(true)}>
            Re-execute chosen steps…
          </button>
        )}
      </div>
      <dl class="summary">
        <dt>Job</dt>
        <dd>{run.job}</dd>
        <dt>Steps</dt>
        <dd data-testid="run-counts">
          {run.succeeded} succeeded · {run.failed} failed · {run.skipped} skipped · {run.stepCount} in all
        </dd>
        <dt>Started</dt>
        <dd>{new Date(run.createdAt).toLocaleString()}</dd>
        <dt>Duration</dt>
        <dd>{duration(run.createdAt, run.finishedAt)}</dd>
        {run.parentRunId && (
          <>
            <dt>Re-execution of</dt>
            <dd>
              <a href={`/runs/${run.parentRunId}`} class="mono">
                {run.parentRunId}
              </a>
            </dd>
          </>
        )}
        {run.error && (
          <>
            <dt>Error</dt>
            <dd class="error-text" data-testid="run-error">
              {run.error.step ? `${run.error.step}: ` : ''}
              {run.error.name}: {run.error.message}
            </dd>
          </>
        )}
      </dl>
      <div class="run-layout">
        <div class="graph-pane">
          {view.planned ? (
            <DagGraph
              nodes={view.graph.nodes}
              edges={view.graph.edges}
              selected={selected?.id}
              onSelect={(node) => {
                setSelected(node);
                setStepKey(node.size === 1 ? node.id : undefined);
              }}
            />
          ) : (
            <p class="muted">This server does not know the job '{run.job}': no graph.</p>
          )}
        </div>
        <aside class="side-pane">
          {stepKey ? (
            <StepPanel
              runId={runId}
              stepKey={stepKey}
              runStatus={run.status}
              version={`${run.status}:${run.succeeded}:${run.failed}`}
              onConfirm={setConfirm}
            />
          ) : selected && selected.size > 1 ? (
            <GroupPanel runId={runId} node={selected} onPick={setStepKey} />
          ) : (
            <p class="muted">Select a step in the graph.</p>
          )}
        </aside>
      </div>
      <h3>Timeline</h3>
      {timeline && (
        <Gantt
          attempts={timeline.attempts}
          total={timeline.total}
          runStart={run.createdAt}
          runEnd={run.finishedAt}
        />
      )}
      <h3>Events</h3>
      <table class="events" data-testid="events">
        <tbody>
          {events.map((event) => (
            <tr data-type={event.type}>
              <td class="mono muted">{event.at.slice(11, 23)}</td>
              <td>
                <span class={`etype ${event.type}`}>{event.type}</span>
              </td>
              <td class="mono">
                {event.step ? `${event.step}${event.attempt ? ` #${event.attempt}` : ''}` : ''}
              </td>
              <td>{event.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more && !following && (
        <button type="button" onClick={loadMore}>
          More events
        </button>
      )}
      {choosing && <RerunStepsDialog runId={runId} job={run.job} onClose={() => setChoosing(false)} />}
      {confirm && <ConfirmDialog confirm={confirm} onClose={() => setConfirm(undefined)} />}
    </section>
  );
}

/** Choose steps to run again (with everything downstream); the rest reuse this run's outputs. */
function RerunStepsDialog(props: { runId: string; job: string; onClose: () => void }) {
  const [keys, setKeys] = useState('');
  const [error, setError] = useState<string>();
  const steps = keys
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-label="Re-execute chosen steps" data-testid="rerun-steps-dialog">
        <h3>Re-execute chosen steps</h3>
        <label class="block">
          Steps (comma-separated)
          <textarea
            data-testid="rerun-steps-input"
            rows={2}
            value={keys}
            onInput={(e) => setKeys(e.currentTarget.value)}
          />
        </label>
        <p class="muted">
          Starts a new run of <b>{props.job}</b> with the same input that runs{' '}
          {steps.length ? steps.join(', ') : 'the chosen steps'} and everything downstream of them, reusing
          the outputs of the other steps that succeeded.
        </p>
        {error && <div class="error-text">{error}</div>}
        <div class="modal-actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button
            type="button"
            class="primary"
            data-testid="rerun-steps-confirm"
            disabled={steps.length === 0}
            onClick={async () => {
              try {
                const started = await post<{ runId: string }>(`/api/runs/${props.runId}/rerun`, { steps });
                props.onClose();
                navigate(`/runs/${started.runId}`);
              } catch (e) {
                setError((e as Error).message);
              }
            }}
          >
            Start new run
          </button>
        </div>
      </div>
    </div>
  );
}
