/**
 * SQS's in-flight limit, emulated at the embedded stack's edge: a standard queue holds at most
 * `messagesPerQueue` messages received and not yet deleted or visible again (AWS: about
 * 120,000; a test scales it down). Past it SQS refuses receives, not sends: a short poll gets
 * the OverLimit error, a long poll gets no error and no messages (SQS Developer Guide, "Quotas
 * related to messages"; docs/scaling.md has the source).
 *
 * The count is a ledger kept from the requests that pass the gateway, not a question to the
 * emulator: fauxqs's ApproximateNumberOfMessagesNotVisible still counts messages whose
 * visibility has expired until its next receive moves them back, so a queue at the limit would
 * never come down; and asking costs a request per receive. The ledger adds each receipt handle
 * a receive returns, with its visibility deadline, and drops it on DeleteMessage(Batch),
 * ChangeMessageVisibility(Batch) to 0, PurgeQueue, DeleteQueue, or when the deadline passes.
 * A receive reserves the messages it may get until its answer comes, and asks for no more than
 * the room left, so the count never passes the limit.
 *
 * What is not modelled: FIFO queues (20,000, another rule), receives made with the query
 * protocol (fauxqs speaks JSON), a request refused upstream after the ledger counted it (a
 * delete of a handle in the ledger is of a message in flight, which fauxqs accepts).
 */

/** What AWS allows a standard queue in flight (docs/scaling.md has the source). */
export const AWS_SQS_IN_FLIGHT_MESSAGES = 120_000;

const TARGET_PREFIX = 'AmazonSQS.';
/** The operations the ledger follows (X-Amz-Target `AmazonSQS.<Op>`). */
const FOLLOWED = new Set([
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'PurgeQueue',
  'DeleteQueue',
  'SetQueueAttributes',
]);
/** How often a held long poll looks again for room (the ledger is in memory: cheap). */
const HOLD_RECHECK_MS = 50;
/** SQS's longest long poll. */
const MAX_WAIT_SECONDS = 20;

export interface SqsInFlightLimitOptions {
  /** In-flight messages per queue (AWS: about 120,000). */
  readonly messagesPerQueue: number;
  /** A queue's VisibilityTimeout in seconds (asked once per queue, again after SetQueueAttributes). */
  readonly visibilityTimeoutOf: (queueUrl: string) => Promise<number>;
  readonly now?: () => number;
}

/** What a receive may do: go on (asking for at most the room left), or be answered here. */
export type ReceiveAdmission =
  | {
      readonly kind: 'pass';
      /** The request to forward: MaxNumberOfMessages cut to the room left. */
      readonly body: Record<string, unknown>;
      /** Call once with the receipt handles the queue answered (none if the request failed). */
      settle(receiptHandles: readonly string[]): void;
    }
  /** A short poll at the limit: SQS's OverLimit error. */
  | { readonly kind: 'overLimit'; readonly message: string }
  /** A long poll that found no room for its whole wait: no error, no messages. */
  | { readonly kind: 'empty' };

/** A followed request at the gateway: forwarded (perhaps rewritten), or answered there. */
export type SqsAdmission =
  | {
      readonly kind: 'forward';
      readonly body: Buffer;
      /** Call once with the queue's answer to a forwarded receive (undefined if it failed). */
      readonly settle?: (status: number | undefined, answer: Buffer | undefined) => void;
    }
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly body: Record<string, unknown>;
      readonly headers: Record<string, string>;
    };

export interface InFlightRefusals {
  readonly queueUrl: string;
  /** Short polls refused with OverLimit. */
  readonly overLimit: number;
  /** Long polls that found the queue at its limit and were held (then got room, or nothing). */
  readonly heldLongPolls: number;
  /** The most messages the queue had in flight at once. */
  readonly peakInFlight: number;
}

interface QueueLedger {
  /** Receipt handle -> visibility deadline (ms). */
  readonly handles: Map<string, number>;
  /** Messages receives in progress may still return. */
  reserved: number;
  overLimit: number;
  heldLongPolls: number;
  peak: number;
}

export class SqsInFlightLimits {
  private readonly queues = new Map<string, QueueLedger>();
  private readonly visibilityTimeouts = new Map<string, Promise<number>>();
  private readonly now: () => number;

  constructor(private readonly options: SqsInFlightLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether the gateway must read this SQS request (X-Amz-Target `AmazonSQS.<Op>`). */
  static follows(target: string | undefined): boolean {
    return target?.startsWith(TARGET_PREFIX) === true && FOLLOWED.has(target.slice(TARGET_PREFIX.length));
  }

  get limit(): number {
    return this.options.messagesPerQueue;
  }

  /**
   * A followed request as the gateway reads it (the JSON protocol): a ReceiveMessage is
   * admitted or answered as SQS answers at the limit (OverLimit: HTTP 403, error code
   * OverLimit, a sender fault); the others are observed and go on unchanged.
   */
  async admit(target: string, raw: Buffer, signal?: AbortSignal): Promise<SqsAdmission> {
    const body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    if (target !== `${TARGET_PREFIX}ReceiveMessage`) {
      this.observe(target, body);
      return { kind: 'forward', body: raw };
    }
    const admission = await this.receive(body, signal);
    switch (admission.kind) {
      case 'overLimit':
        return {
          kind: 'answer',
          status: 403,
          body: { __type: 'com.amazonaws.sqs#OverLimit', message: admission.message },
          headers: { 'x-amzn-query-error': 'OverLimit;Sender' },
        };
      case 'empty':
        return { kind: 'answer', status: 200, body: {}, headers: {} };
      case 'pass':
        return {
          kind: 'forward',
          body: Buffer.from(JSON.stringify(admission.body)),
          settle: (status, answer) => admission.settle(status === 200 ? receiptHandlesOf(answer) : []),
        };
    }
  }

  /**
   * A ReceiveMessage: admitted with at most the room left; else OverLimit for a short poll,
   * or, for a long poll, held until room frees or its wait ends (`signal`: the caller left).
   */
  async receive(body: Record<string, unknown>, signal?: AbortSignal): Promise<ReceiveAdmission> {
    const queueUrl = String(body.QueueUrl ?? '');
    const visibilitySeconds = await this.visibilityOf(queueUrl, body.VisibilityTimeout);
    // No such queue: not ours to count; the queue's own answer (QueueDoesNotExist) goes back.
    if (visibilitySeconds === undefined) return { kind: 'pass', body, settle: () => undefined };
    const ledger = this.ledgerOf(queueUrl);
    let room = this.roomIn(ledger);
    if (room <= 0) {
      // Our queues and fauxqs's default: ReceiveMessageWaitTimeSeconds 0, so no wait is a short poll.
      const waitSeconds = Math.min(MAX_WAIT_SECONDS, Number(body.WaitTimeSeconds ?? 0));
      if (waitSeconds <= 0) {
        ledger.overLimit++;
        return { kind: 'overLimit', message: this.overLimitMessage(queueUrl) };
      }
      ledger.heldLongPolls++;
      const until = this.now() + waitSeconds * 1000;
      while (room <= 0) {
        if (this.now() >= until || signal?.aborted) return { kind: 'empty' };
        await sleep(HOLD_RECHECK_MS);
        room = this.roomIn(ledger);
      }
    }
    const asked = Math.min(Number(body.MaxNumberOfMessages ?? 1), room);
    ledger.reserved += asked;
    let settled = false;
    return {
      kind: 'pass',
      body: { ...body, MaxNumberOfMessages: asked },
      settle: (receiptHandles) => {
        if (settled) return;
        settled = true;
        // fauxqs started the visibility when it answered: a deadline this late or later is safe.
        const deadline = this.now() + visibilitySeconds * 1000;
        for (const handle of receiptHandles) ledger.handles.set(handle, deadline);
        ledger.reserved -= asked;
        ledger.peak = Math.max(ledger.peak, ledger.handles.size);
      },
    };
  }

  /** Any other followed request: what it does to the count, applied as it passes. */
  observe(target: string, body: Record<string, unknown>): void {
    const operation = target.slice(TARGET_PREFIX.length);
    const queueUrl = String(body.QueueUrl ?? '');
    const ledger = this.queues.get(queueUrl);
    const entries = (body.Entries ?? []) as { ReceiptHandle?: string; VisibilityTimeout?: number }[];
    switch (operation) {
      case 'DeleteMessage':
        ledger?.handles.delete(String(body.ReceiptHandle));
        return;
      case 'DeleteMessageBatch':
        for (const entry of entries) ledger?.handles.delete(String(entry.ReceiptHandle));
        return;
      case 'ChangeMessageVisibility':
        this.changeVisibility(ledger, String(body.ReceiptHandle), Number(body.VisibilityTimeout));
        return;
      case 'ChangeMessageVisibilityBatch':
        for (const entry of entries)
          this.changeVisibility(ledger, String(entry.ReceiptHandle), Number(entry.VisibilityTimeout));
        return;
      case 'PurgeQueue':
      case 'DeleteQueue':
        ledger?.handles.clear();
        return;
      case 'SetQueueAttributes':
        this.visibilityTimeouts.delete(queueUrl);
        return;
    }
  }

  /** Messages in flight on a queue now. */
  inFlight(queueUrl: string): number {
    const ledger = this.queues.get(queueUrl);
    return ledger ? this.sweep(ledger) : 0;
  }

  /** The queues whose receives found them at the limit, most refused first. */
  refused(): InFlightRefusals[] {
    return [...this.queues.entries()]
      .filter(([, q]) => q.overLimit + q.heldLongPolls > 0)
      .map(([queueUrl, q]) => ({
        queueUrl,
        overLimit: q.overLimit,
        heldLongPolls: q.heldLongPolls,
        peakInFlight: q.peak,
      }))
      .sort((a, b) => b.overLimit + b.heldLongPolls - (a.overLimit + a.heldLongPolls));
  }

  /** The most messages each queue had in flight at once, by queue URL. */
  peaks(): Map<string, number> {
    return new Map([...this.queues.entries()].map(([url, q]) => [url, q.peak]));
  }

  private roomIn(ledger: QueueLedger): number {
    return this.options.messagesPerQueue - this.sweep(ledger) - ledger.reserved;
  }

  /** Drops the handles whose visibility has ended (visible again: not in flight); the count left. */
  private sweep(ledger: QueueLedger): number {
    const now = this.now();
    for (const [handle, deadline] of ledger.handles) if (deadline <= now) ledger.handles.delete(handle);
    return ledger.handles.size;
  }

  private changeVisibility(ledger: QueueLedger | undefined, handle: string, seconds: number): void {
    if (!ledger?.handles.has(handle)) return;
    if (seconds <= 0) ledger.handles.delete(handle);
    else ledger.handles.set(handle, this.now() + seconds * 1000);
  }

  private ledgerOf(queueUrl: string): QueueLedger {
    let ledger = this.queues.get(queueUrl);
    if (!ledger) {
      ledger = { handles: new Map(), reserved: 0, overLimit: 0, heldLongPolls: 0, peak: 0 };
      this.queues.set(queueUrl, ledger);
    }
    return ledger;
  }

  /** The receive's visibility in seconds; undefined when the queue cannot say (no such queue). */
  private async visibilityOf(queueUrl: string, requested: unknown): Promise<number | undefined> {
    if (requested !== undefined) return Number(requested);
    let timeout = this.visibilityTimeouts.get(queueUrl);
    if (!timeout) {
      timeout = this.options.visibilityTimeoutOf(queueUrl);
      this.visibilityTimeouts.set(queueUrl, timeout);
    }
    try {
      return await timeout;
    } catch {
      // Asked again next time: the queue may be created yet.
      this.visibilityTimeouts.delete(queueUrl);
      return undefined;
    }
  }

  private overLimitMessage(queueUrl: string): string {
    return `The maximum number of in flight messages is reached (${queueUrl}: the embedded stack's limit of ${this.options.messagesPerQueue} per queue).`;
  }
}

function receiptHandlesOf(answer: Buffer | undefined): string[] {
  if (!answer?.length) return [];
  const { Messages = [] } = JSON.parse(answer.toString('utf8')) as {
    Messages?: { ReceiptHandle?: string }[];
  };
  return Messages.flatMap((m) => (m.ReceiptHandle ? [m.ReceiptHandle] : []));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
