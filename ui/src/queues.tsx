import { useEffect, useState } from 'preact/hooks';
import { get, post } from './api.ts';
import { type Confirmation, ConfirmDialog } from './confirm.tsx';

interface QueueStats {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
  maxReceiveCount?: number;
  dlq?: { visible: number; oldestAgeSeconds?: number };
}

/** The step queues: depth, in flight, delayed, dead letters; a DLQ can be redriven. */
export function QueuesPage() {
  const [queues, setQueues] = useState<QueueStats[]>();
  const [confirm, setConfirm] = useState<Confirmation>();
  const [message, setMessage] = useState<string>();
  const load = () => get<{ queues: QueueStats[] }>('/api/queues').then((r) => setQueues(r.queues));
  useEffect(() => {
    load();
    const timer = setInterval(load, 5_000);
    return () => clearInterval(timer);
  }, []);
  const redrive = (queue: QueueStats): Confirmation => ({
    title: `Redrive the dead letters of '${queue.name}'?`,
    body: (
      <p>
        Moves the {queue.dlq?.visible ?? 0} message(s) in the dead-letter queue of step queue{' '}
        <b>{queue.name}</b> back to it, where workers take them again.
      </p>
    ),
    action: 'Redrive',
    run: async () => {
      const result = await post<{ moved: number }>(`/api/queues/${encodeURIComponent(queue.name)}/redrive`);
      setMessage(`${result.moved} message(s) moved back to '${queue.name}'`);
      await load();
    },
  });
  return (
    <section>
      <div class="toolbar">
        <h2>Queues</h2>
      </div>
      {message && <p>{message}</p>}
      <table class="runs" data-testid="queues">
        <thead>
          <tr>
            <th>Step queue</th>
            <th>Depth</th>
            <th>In flight</th>
            <th>Delayed</th>
            <th>Max receives</th>
            <th>DLQ</th>
            <th>DLQ oldest</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {queues?.map((queue) => (
            <tr data-queue={queue.name}>
              <td class="mono">{queue.name}</td>
              <td>{queue.visible}</td>
              <td>{queue.inFlight}</td>
              <td>{queue.delayed}</td>
              <td>{queue.maxReceiveCount ?? '–'}</td>
              <td class={queue.dlq?.visible ? 'error-text' : ''}>
                {queue.dlq ? queue.dlq.visible : 'no DLQ'}
              </td>
              <td>{queue.dlq?.oldestAgeSeconds === undefined ? '–' : `${queue.dlq.oldestAgeSeconds} s`}</td>
              <td>
                {queue.dlq && (
                  <button
                    type="button"
                    disabled={!queue.dlq.visible}
                    onClick={() => setConfirm(redrive(queue))}
                  >
                    Redrive
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {confirm && <ConfirmDialog confirm={confirm} onClose={() => setConfirm(undefined)} />}
    </section>
  );
}
