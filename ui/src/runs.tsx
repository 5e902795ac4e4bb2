import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, duration, get, post, q, type Run } from './api.ts';
import { Link, navigate } from './router.tsx';

const STATUSES = ['', 'QUEUED', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELING', 'CANCELED'];
const PAGE = 25;

/** The runs list: newest first, filtered by job and status, paged by cursor, refreshed live. */
export function RunsPage() {
  const [jobs, setJobs] = useState<{ name: string; description: string }[]>([]);
  const [job, setJob] = useState('');
  const [status, setStatus] = useState('');
  const [runs, setRuns] = useState<Run[]>([]);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [next, setNext] = useState<string>();
  const [starting, setStarting] = useState(false);
  const cursor = cursors.at(-1);

  useEffect(() => {
    get<{ jobs: { name: string; description: string }[] }>('/api/jobs').then((r) => setJobs(r.jobs));
  }, []);

  const load = useCallback(async () => {
    const page = await get<{ runs: Run[]; cursor?: string }>(
      `/api/runs${q({ job, status, cursor, limit: PAGE })}`,
    );
    setRuns(page.runs);
    setNext(page.cursor);
  }, [job, status, cursor]);

  useEffect(() => {
    load();
    // Live: the server says when the newest runs change; only the first page follows it.
    if (cursor) return;
    const source = new EventSource(`/api/live/runs${q({ job })}`);
    source.addEventListener('changed', () => load());
    return () => source.close();
  }, [load, cursor, job]);

  return (
    <section>
      <div class="toolbar">
        <h2>Runs</h2>
        <label>
          Job{' '}
          <select
            data-testid="filter-job"
            value={job}
            onChange={(e) => {
              setJob(e.currentTarget.value);
              setCursors([undefined]);
            }}
          >
            <option value="">all jobs</option>
            {jobs.map((j) => (
              <option value={j.name}>{j.name}</option>
            ))}
          </select>
        </label>
        <label>
          Status{' '}
          <select
            data-testid="filter-status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setCursors([undefined]);
            }}
          >
            {STATUSES.map((s) => (
              <option value={s}>{s || 'any'}</option>
            ))}
          </select>
        </label>
        <span class="spacer" />
        <button type="button" class="primary" data-testid="start-run" onClick={() => setStarting(true)}>
          Launch run
        </button>
      </div>
      <table class="runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Job</th>
            <th>Status</th>
            <th>Steps done</th>
            <th>Failed</th>
            <th>Started</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr data-testid="run-row" data-run={run.runId} data-status={run.status}>
              <td>
                <Link href={`/runs/${run.runId}`} class="mono">
                  {run.runId}
                </Link>
              </td>
              <td>{run.job}</td>
              <td>
                <span class={`badge ${run.status}`}>{run.status}</span>
              </td>
              <td>
                {run.succeeded}/{run.stepCount}
              </td>
              <td>{run.failed || ''}</td>
              <td>{new Date(run.createdAt).toLocaleString()}</td>
              <td>{duration(run.createdAt, run.finishedAt)}</td>
            </tr>
          ))}
          {runs.length === 0 && (
            <tr>
              <td colSpan={7} class="muted">
                No runs here yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!next} onClick={() => setCursors([...cursors, next])}>
          Older
        </button>
      </div>
      {starting && (
        <LaunchDialog jobs={jobs.map((j) => j.name)} initialJob={job} onClose={() => setStarting(false)} />
      )}
    </section>
  );
}

/** Start a run of a job with a JSON input: errors come back by field; nothing starts until confirmed. */
function LaunchDialog(props: { jobs: string[]; initialJob: string; onClose: () => void }) {
  const [job, setJob] = useState(props.initialJob || props.jobs[0] || '');
  const [input, setInput] = useState('{}');
  const [issues, setIssues] = useState<readonly string[]>([]);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const launch = async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input || '{}');
    } catch (e) {
      setError(`the input is not JSON: ${(e as Error).message}`);
      return;
    }
    setBusy(true);
    try {
      const { runId } = await post<{ runId: string }>('/api/runs', { job, input: parsed });
      props.onClose();
      navigate(`/runs/${runId}`);
    } catch (e) {
      setError((e as Error).message);
      setIssues(e instanceof ApiError ? e.issues : []);
      setBusy(false);
    }
  };
  return (
    <div class="modal-backdrop">
      <div class="modal" role="dialog" aria-label="Launch a run" data-testid="launch">
        <h3>Launch a run</h3>
        <label>
          Job{' '}
          <select data-testid="launch-job" value={job} onChange={(e) => setJob(e.currentTarget.value)}>
            {props.jobs.map((j) => (
              <option value={j}>{j}</option>
            ))}
          </select>
        </label>
        <label class="block">
          Input (JSON)
          <textarea
            data-testid="launch-input"
            rows={6}
            value={input}
            onInput={(e) => setInput(e.currentTarget.value)}
          />
        </label>
        {error && (
          <div class="error-text" data-testid="launch-error">
            {issues.length ? 'The input is invalid:' : error}
            {issues.length > 0 && (
              <ul>
                {issues.map((i) => (
                  <li>{i}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        <p class="muted">
          This starts a new run of <b>{job}</b> with the input above.
        </p>
        <div class="modal-actions">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" class="primary" data-testid="launch-confirm" disabled={busy} onClick={launch}>
            Start run of {job}
          </button>
        </div>
      </div>
    </div>
  );
}
