import './style.css';
import { render } from 'preact';
import { QueuesPage } from './queues.tsx';
import { Link, usePath } from './router.tsx';
import { RunPage } from './run.tsx';
import { RunsPage } from './runs.tsx';

function App() {
  const path = usePath();
  const run = /^\/runs\/([^/]+)/.exec(path)?.[1];
  return (
    <>
      <header>
        <Link href="/" class="brand">
          lambdag
        </Link>
        <nav>
          <Link href="/" class={!run && path !== '/queues' ? 'active' : ''}>
            Runs
          </Link>
          <Link href="/queues" class={path === '/queues' ? 'active' : ''}>
            Queues
          </Link>
        </nav>
      </header>
      <main>{run ? <RunPage runId={run} /> : path === '/queues' ? <QueuesPage /> : <RunsPage />}</main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
