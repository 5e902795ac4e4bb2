import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageSystemAttributeName,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigError, RedriveIncompleteError } from '../errors.ts';

/** One step queue and its dead-letter queue, as `lambdag queues` shows them. */
export interface QueueStats {
  readonly name: string;
  readonly url: string;
  /** Messages waiting to be received. */
  readonly visible: number;
  /** Received and not yet deleted (steps running, or a worker that died). */
  readonly inFlight: number;
  /** Waiting out a DelaySeconds (retries with backoff). */
  readonly delayed: number;
  readonly maxReceiveCount?: number;
  readonly dlq?: DlqStats;
}

export interface DlqStats {
  readonly url: string;
  readonly visible: number;
  /** Age in seconds of the oldest message in the DLQ (sampled by a non-destructive peek). */
  readonly oldestAgeSeconds?: number;
}

/** A message found in a DLQ: what it is and how often it was tried. */
export interface DeadLetter {
  readonly messageId: string;
  readonly receiveCount: number;
  readonly sentAt: string;
  /** runId/step of a step message, or why the body is not one. */
  readonly describe: string;
  readonly body: string;
}

export interface RedriveResult {
  readonly moved: number;
  readonly queue: string;
}

const BATCH = 10;

/**
 * Depth, in-flight and DLQ state of the step queues, and moving dead letters
 * back (redrive). Works on any SQS: it uses only the queue API (no CloudWatch),
 * so the embedded stack and LocalStack answer it too.
 */
export class QueueInspector {
  private readonly dlqUrls = new Map<string, string | undefined>();

  constructor(
    private readonly sqs: SQSClient,
    /** Step queue URL by name (LambdagConfig.queues). */
    private readonly queues: Readonly<Record<string, string>>,
  ) {}

  async stats(): Promise<QueueStats[]> {
    return Promise.all(Object.entries(this.queues).map(([name, url]) => this.statsOf(name, url)));
  }

  /** Up to `max` dead letters of a queue, left in place (received with a zero visibility timeout). */
  async peekDeadLetters(queue: string, max = 10): Promise<DeadLetter[]> {
    const dlq = await this.requireDlq(queue);
    const seen = new Map<string, DeadLetter>();
    // A few receives: SQS returns a sample of the messages per call.
    for (let round = 0; round < 3 && seen.size < max; round++) {
      const Messages = await this.peek(dlq, Math.min(BATCH, max), [
        'ApproximateReceiveCount',
        'SentTimestamp',
      ]);
      if (Messages.length === 0) break;
      for (const message of Messages)
        if (message.MessageId) seen.set(message.MessageId, deadLetterOf(message));
    }
    return [...seen.values()].slice(0, max);
  }

  /**
   * Move up to `max` messages from a queue's DLQ back to the queue. Each is sent
   * before it is deleted, so a crash in between leaves a duplicate, never a loss;
   * the step worker's idempotency absorbs the duplicate.
   */
  async redrive(queue: string, max = Number.POSITIVE_INFINITY): Promise<RedriveResult> {
    const source = this.requireQueue(queue);
    const dlq = await this.requireDlq(queue);
    let moved = 0;
    while (moved < max) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq,
          MaxNumberOfMessages: Math.min(BATCH, max - moved),
          VisibilityTimeout: 60,
          WaitTimeSeconds: 0,
          // Each message goes back in its run's group (its tenant's turn on the fair queue).
          MessageSystemAttributeNames: ['MessageGroupId'],
        }),
      );
      if (Messages.length === 0) break;
      const sent = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: source,
          Entries: Messages.map((m, i) => ({
            Id: String(i),
            MessageBody: m.Body ?? '',
            ...(m.Attributes?.MessageGroupId ? { MessageGroupId: m.Attributes.MessageGroupId } : {}),
          })),
        }),
      );
      const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
      const done = Messages.filter((_, i) => ok.has(String(i)));
      if (done.length) {
        await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: dlq,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      }
      moved += done.length;
      if (done.length < Messages.length) {
        throw new RedriveIncompleteError(queue, Messages.length - done.length);
      }
    }
    return { moved, queue };
  }

  private async statsOf(name: string, url: string): Promise<QueueStats> {
    const a = await this.attributes(url, [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
      'RedrivePolicy',
    ]);
    const redrive = a.RedrivePolicy
      ? (JSON.parse(a.RedrivePolicy) as { maxReceiveCount?: number | string })
      : undefined;
    const dlqUrl = await this.dlqOf(name);
    return {
      name,
      url,
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      ...(redrive?.maxReceiveCount === undefined ? {} : { maxReceiveCount: Number(redrive.maxReceiveCount) }),
      ...(dlqUrl ? { dlq: await this.dlqStats(dlqUrl) } : {}),
    };
  }

  private async dlqStats(url: string): Promise<DlqStats> {
    const a = await this.attributes(url, ['ApproximateNumberOfMessages']);
    const visible = Number(a.ApproximateNumberOfMessages ?? 0);
    if (visible === 0) return { url, visible };
    const Messages = await this.peek(url, BATCH, ['SentTimestamp']);
    const sent = Messages.map((m) => Number(m.Attributes?.SentTimestamp)).filter(Number.isFinite);
    return sent.length
      ? { url, visible, oldestAgeSeconds: Math.round((Date.now() - Math.min(...sent)) / 1000) }
      : { url, visible };
  }

  /**
   * Receive messages and make them visible again at once: a look that leaves them in
   * place. (A receive with VisibilityTimeout 0 should do it alone; not every SQS honours it.)
   * Only for DLQs: on a step queue the receive count would move messages toward the DLQ.
   */
  private async peek(url: string, max: number, attributes: MessageSystemAttributeName[]): Promise<Message[]> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: attributes,
      }),
    );
    if (Messages.length) {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: Messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle ?? '',
            VisibilityTimeout: 0,
          })),
        }),
      );
    }
    return Messages;
  }

  private requireQueue(queue: string): string {
    const url = this.queues[queue];
    if (!url) {
      throw new ConfigError(
        'queue',
        `unknown step queue '${queue}'; known: ${Object.keys(this.queues).join(', ')}`,
      );
    }
    return url;
  }

  private async requireDlq(queue: string): Promise<string> {
    this.requireQueue(queue);
    const dlq = await this.dlqOf(queue);
    if (!dlq)
      throw new ConfigError('queue', `step queue '${queue}' has no dead-letter queue (no RedrivePolicy)`);
    return dlq;
  }

  /** The DLQ's URL, from the queue's RedrivePolicy (the DLQ ARN ends with its name). */
  private async dlqOf(queue: string): Promise<string | undefined> {
    if (this.dlqUrls.has(queue)) return this.dlqUrls.get(queue);
    const a = await this.attributes(this.requireQueue(queue), ['RedrivePolicy']);
    let url: string | undefined;
    if (a.RedrivePolicy) {
      const arn = String(
        (JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? '',
      );
      const [, , , , account, name] = arn.split(':');
      if (name) {
        const out = await this.sqs.send(
          new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
        );
        url = out.QueueUrl;
      }
    }
    this.dlqUrls.set(queue, url);
    return url;
  }

  private async attributes(url: string, names: string[]): Promise<Record<string, string>> {
    const out = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: names as never }),
    );
    return out.Attributes ?? {};
  }
}

function deadLetterOf(message: Message): DeadLetter {
  const body = message.Body ?? '';
  let describe: string;
  try {
    const parsed = JSON.parse(body) as {
      runId?: unknown;
      step?: unknown;
      attempt?: unknown;
      claim?: unknown;
    };
    if (typeof parsed.runId === 'string')
      describe = `run ${parsed.runId} step ${String(parsed.step)} attempt ${String(parsed.attempt)}`;
    else if (typeof parsed.claim === 'string') describe = `claim check ${parsed.claim}`;
    else describe = 'JSON that is not a step message';
  } catch {
    describe = 'not JSON';
  }
  return {
    messageId: message.MessageId ?? '',
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
    sentAt: new Date(Number(message.Attributes?.SentTimestamp ?? 0)).toISOString(),
    describe,
    body,
  };
}
