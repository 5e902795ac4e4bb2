/**
 * SQS fair queues (2025), modelled on the embedded stack's standard queues. On AWS a standard
 * queue serves messages that carry a MessageGroupId (a tenant) so that one tenant's backlog
 * does not hold back the others: when a tenant holds a disproportionate share of the messages
 * in flight, receives return the quiet tenants' messages first, and among busy tenants the
 * one with the fewest in flight ("How Amazon SQS fair queues work", SQS Developer Guide, read
 * December 2026). fauxqs 1.9.2 drops a standard queue's MessageGroupId and serves in arrival
 * order, so a 2,000-message run would hold back a 5-step run sent after it.
 *
 * The model, on fauxqs's own queue objects (its SqsStore, subclassed so each new standard
 * queue is adopted):
 * - a send's MessageGroupId is kept on the message (so a receive that asks for it returns it,
 *   and the message keeps it through redelivery and the DLQ); a message without one is a
 *   tenant of its own, as on AWS;
 * - each receive first puts at the head of the queue, one at a time, the oldest visible
 *   message of the tenant with the fewest messages in flight (ties: the older message), so
 *   a quiet tenant's message goes out with the next receive. Within a tenant, arrival order.
 *
 * Stricter than AWS: AWS reorders only once a tenant is detected as noisy (over 10% of the
 * queue's in-flight messages and at least 30 of its own, or over 10% of the consumers'
 * processing time), and its thresholds are approximate; here every receive balances by
 * in-flight messages, and processing time is not measured. FIFO queues are fauxqs's own.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The part of a fauxqs message this reads and writes. */
interface QueuedMessage {
  readonly messageId: string;
  messageGroupId?: string;
}

/** The part of a fauxqs queue this reads and writes. */
interface FauxqsQueue {
  readonly url: string;
  messages: QueuedMessage[];
  readonly delayedMessages: QueuedMessage[];
  readonly inflightMessages: Map<string, { readonly message: QueuedMessage }>;
  isFifo(): boolean;
  processTimers(): void;
  dequeue(maxCount: number, visibilityTimeout?: number, dlqResolver?: unknown): unknown[];
}

interface FauxqsStore {
  getQueue(url: string): FauxqsQueue | undefined;
}

type StoreClass = new () => FauxqsStore & {
  createQueue(...args: unknown[]): FauxqsQueue;
};

/** What fauxqs's buildApp takes to use stores made here. */
export interface FauxqsStores {
  readonly sqsStore: unknown;
  readonly snsStore: unknown;
  readonly s3Store: unknown;
}

interface SendEntry {
  readonly Id?: string;
  readonly MessageGroupId?: string;
}

interface HookRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

type Hook = (
  request: HookRequest,
  reply: { readonly statusCode: number },
  payload: unknown,
) => Promise<unknown>;

/** The part of the fauxqs (Fastify) app this needs. */
export interface FairQueuesApp {
  addHook(name: 'preSerialization', hook: Hook): unknown;
}

/** Sends to one queue, by whether they named a message group. */
export interface GroupedSends {
  readonly grouped: number;
  readonly ungrouped: number;
}

/** How far from a queue's tail a message just sent is looked for (a batch is at most 10). */
const TAIL_WINDOW = 64;
/** A message with no group is a tenant of its own (AWS); no MessageGroupId starts with this. */
const OWN_TENANT = '\u0000';

interface QueueState {
  /** Some message seen since the last look may be another tenant's: look before each receive. */
  mixed: boolean;
  /** The one tenant the last look found, when it found one. */
  sole?: string;
  grouped: number;
  ungrouped: number;
}

export class FairQueues {
  private readonly queues = new Map<string, QueueState>();
  /** Groups of messages sent and not found on their queue yet (received already), by MessageId. */
  private readonly pending = new Map<string, string>();
  private store: FauxqsStore | undefined;

  /**
   * fauxqs's stores, the SQS one adopting each standard queue it creates. fauxqs exports
   * no stores, so they are loaded from its files (pinned at 1.9.2; local-stack.md).
   */
  async stores(): Promise<FauxqsStores> {
    const dist = join(fileURLToPath(import.meta.resolve('fauxqs')), '..');
    const load = async (path: string, name: string) =>
      ((await import(pathToFileURL(join(dist, path)).href)) as Record<string, StoreClass>)[
        name
      ] as StoreClass;
    const [SqsStore, SnsStore, S3Store] = await Promise.all([
      load('sqs/sqsStore.js', 'SqsStore'),
      load('sns/snsStore.js', 'SnsStore'),
      load('s3/s3Store.js', 'S3Store'),
    ]);
    const fair = this;
    class FairSqsStore extends SqsStore {
      override createQueue(...args: unknown[]): FauxqsQueue {
        const queue = super.createQueue(...args);
        if (!queue.isFifo()) fair.adopt(queue);
        return queue;
      }
    }
    const sqsStore = new FairSqsStore();
    this.store = sqsStore;
    return { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() };
  }

  /** Keep each send's MessageGroupId on its message (fauxqs answers sends before this hook). */
  install(app: FairQueuesApp): void {
    app.addHook('preSerialization', async (request, reply, payload) => {
      if (reply.statusCode !== 200 || !payload || typeof payload !== 'object') return payload;
      const action = String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
      const body = (request.body ?? {}) as SendEntry & { QueueUrl?: string; Entries?: SendEntry[] };
      const queue = body.QueueUrl ? this.store?.getQueue(body.QueueUrl) : undefined;
      if (!queue || queue.isFifo()) return payload;
      if (action === 'SendMessage') {
        this.sent(queue, (payload as { MessageId?: string }).MessageId, body.MessageGroupId);
      } else if (action === 'SendMessageBatch') {
        const groups = new Map((body.Entries ?? []).map((entry) => [entry.Id, entry.MessageGroupId]));
        for (const sent of (payload as { Successful?: { Id?: string; MessageId?: string }[] }).Successful ??
          [])
          this.sent(queue, sent.MessageId, groups.get(sent.Id));
      }
      return payload;
    });
  }

  /** Sends to a queue so far, with and without a message group. */
  sends(queueUrl: string): GroupedSends {
    const state = this.queues.get(queueUrl);
    return { grouped: state?.grouped ?? 0, ungrouped: state?.ungrouped ?? 0 };
  }

  private adopt(queue: FauxqsQueue): void {
    this.queues.set(queue.url, { mixed: true, grouped: 0, ungrouped: 0 });
    const dequeue = queue.dequeue.bind(queue);
    queue.dequeue = (maxCount, visibilityTimeout, dlqResolver) => {
      this.arrange(queue, Math.min(10, maxCount));
      return dequeue(maxCount, visibilityTimeout, dlqResolver);
    };
  }

  private sent(queue: FauxqsQueue, messageId: string | undefined, group: string | undefined): void {
    const state = this.stateOf(queue);
    if (group === undefined) state.ungrouped++;
    else state.grouped++;
    if (group === undefined || group !== state.sole) state.mixed = true;
    if (!messageId || group === undefined) return;
    const message = findNearTail(queue.messages, messageId) ?? findNearTail(queue.delayedMessages, messageId);
    if (message) message.messageGroupId = group;
    else this.pending.set(messageId, group);
  }

  /** Put the next `count` messages a fair queue would serve at the head of the visible ones. */
  private arrange(queue: FauxqsQueue, count: number): void {
    const state = this.stateOf(queue);
    if (!state.mixed) return;
    queue.processTimers();
    const visible = queue.messages;
    // Each tenant's oldest `count` visible messages, by index.
    const heads = new Map<string, number[]>();
    visible.forEach((message, index) => {
      const tenant = this.tenantOf(message);
      const list = heads.get(tenant);
      if (!list) heads.set(tenant, [index]);
      else if (list.length < count) list.push(index);
    });
    if (heads.size <= 1) {
      this.noteTenants(queue, state, heads.keys().next().value);
      return;
    }
    const inFlight = new Map<string, number>();
    for (const { message } of queue.inflightMessages.values()) {
      const tenant = this.tenantOf(message);
      inFlight.set(tenant, (inFlight.get(tenant) ?? 0) + 1);
    }
    const picks: number[] = [];
    while (picks.length < count) {
      let best: { tenant: string; load: number; head: number } | undefined;
      for (const [tenant, list] of heads) {
        const head = list[0];
        if (head === undefined) continue;
        const load = inFlight.get(tenant) ?? 0;
        if (!best || load < best.load || (load === best.load && head < best.head))
          best = { tenant, load, head };
      }
      if (!best) break;
      heads.get(best.tenant)?.shift();
      inFlight.set(best.tenant, best.load + 1);
      picks.push(best.head);
    }
    const picked = new Set(picks);
    queue.messages = [
      ...picks.map((index) => visible[index] as QueuedMessage),
      ...visible.filter((_, index) => !picked.has(index)),
    ];
  }

  /**
   * The visible messages are one tenant's: until a send names another, receives need no
   * look, unless a message in flight or delayed is another tenant's (it will be visible).
   */
  private noteTenants(queue: FauxqsQueue, state: QueueState, tenant: string | undefined): void {
    const others = (message: QueuedMessage) => tenant === undefined || this.tenantOf(message) !== tenant;
    if (queue.delayedMessages.some(others)) return;
    for (const { message } of queue.inflightMessages.values()) if (others(message)) return;
    state.mixed = false;
    if (tenant === undefined) delete state.sole;
    else state.sole = tenant;
  }

  private tenantOf(message: QueuedMessage): string {
    if (message.messageGroupId === undefined) {
      const group = this.pending.get(message.messageId);
      if (group === undefined) return OWN_TENANT + message.messageId;
      message.messageGroupId = group;
      this.pending.delete(message.messageId);
    }
    return message.messageGroupId;
  }

  private stateOf(queue: FauxqsQueue): QueueState {
    let state = this.queues.get(queue.url);
    if (!state) {
      state = { mixed: true, grouped: 0, ungrouped: 0 };
      this.queues.set(queue.url, state);
    }
    return state;
  }
}

function findNearTail(messages: readonly QueuedMessage[], messageId: string): QueuedMessage | undefined {
  for (let i = messages.length - 1; i >= Math.max(0, messages.length - TAIL_WINDOW); i--) {
    if (messages[i]?.messageId === messageId) return messages[i];
  }
  return undefined;
}
