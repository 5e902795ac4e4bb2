import { QueueInspector, type QueueStats } from '../../lib/client/queueInspector.ts';
import { bold, dim, red, table } from '../format.ts';
import { type Target, type TargetOptions, withTarget } from '../target.ts';
import { print } from './run.ts';

const inspector = (target: Target) => new QueueInspector(target.deps.aws.sqs, target.deps.config.queues);

/** `lambdag queues`: depth, in flight, delayed and DLQ of every step queue. */
export function queuesCommand(options: TargetOptions & { json?: boolean }): Promise<number> {
  return withTarget(options, async (target) => {
    const stats = await inspector(target).stats();
    if (options.json) print(stats);
    else process.stdout.write(`${queuesTable(stats)}\n`);
    return 0;
  });
}

function queuesTable(stats: readonly QueueStats[]): string {
  const rows = stats.map((q) => [
    q.name,
    String(q.visible),
    String(q.inFlight),
    String(q.delayed),
    q.maxReceiveCount === undefined ? '-' : String(q.maxReceiveCount),
    q.dlq ? (q.dlq.visible > 0 ? red(String(q.dlq.visible)) : '0') : dim('no DLQ'),
    q.dlq?.oldestAgeSeconds === undefined ? '-' : `${q.dlq.oldestAgeSeconds}s`,
  ]);
  const hint = stats.some((q) => (q.dlq?.visible ?? 0) > 0)
    ? `\n${dim('inspect: npx lambdag dlq list --queue NAME · move back: npx lambdag dlq redrive --queue NAME')}`
    : '';
  return `${table([['queue', 'visible', 'in flight', 'delayed', 'max receives', 'dlq', 'dlq oldest'], ...rows])}${hint}`;
}

/** `lambdag dlq list`: the dead letters of a queue, left where they are. */
export function dlqListCommand(
  options: TargetOptions & { queue?: string; max?: string; json?: boolean },
): Promise<number> {
  return withTarget(options, async (target) => {
    const letters = await inspector(target).peekDeadLetters(
      options.queue ?? 'default',
      Number(options.max ?? 10),
    );
    if (options.json) print(letters);
    else if (letters.length === 0) process.stdout.write('the dead-letter queue is empty\n');
    else {
      process.stdout.write(
        `${table([['message', 'receives', 'sent', 'what'], ...letters.map((l) => [l.messageId, String(l.receiveCount), l.sentAt, l.describe])])}\n`,
      );
    }
    return 0;
  });
}

/** `lambdag dlq redrive`: move dead letters back to their step queue. */
export function dlqRedriveCommand(
  options: TargetOptions & { queue?: string; max?: string; json?: boolean },
): Promise<number> {
  return withTarget(options, async (target) => {
    const max = options.max === undefined ? Number.POSITIVE_INFINITY : Number(options.max);
    const result = await inspector(target).redrive(options.queue ?? 'default', max);
    if (options.json) print(result);
    else
      process.stdout.write(
        `${bold(String(result.moved))} message(s) moved back to step queue '${result.queue}'\n`,
      );
    return 0;
  });
}
