/**
 * The AWSTraceHeader message system attribute, which fauxqs 1.9.2 does not keep: SQS stores
 * the X-Ray trace header a message was sent with (the MessageSystemAttributes.AWSTraceHeader
 * of the entry, else the request's X-Amzn-Trace-Id header) and returns it on ReceiveMessage
 * to whoever asks for AWSTraceHeader (or All). Lambda's recursive loop detection reads it
 * there (local/lineage.ts). Added to the fauxqs app with Fastify hooks, on the JSON protocol
 * fauxqs speaks; kept per MessageId, so a redelivered or redriven message keeps its header.
 */

const TRACE_HEADER = 'x-amzn-trace-id';

interface SqsRequest {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

interface SqsReply {
  readonly statusCode: number;
}

type Hook = (request: SqsRequest, reply: SqsReply, payload: unknown) => Promise<unknown>;

/** The part of the fauxqs (Fastify) app this needs. */
export interface HookableApp {
  addHook(name: 'preSerialization', hook: Hook): unknown;
}

type SystemAttributes = Record<string, { StringValue?: string } | undefined> | undefined;

interface SendEntry {
  Id?: string;
  MessageSystemAttributes?: SystemAttributes;
}

interface SendBody extends SendEntry {
  Entries?: SendEntry[];
  ReceiptHandle?: string;
  AttributeNames?: string[];
  MessageSystemAttributeNames?: string[];
}

interface ReceivedMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  Attributes?: Record<string, string>;
}

export class SqsTraceHeaders {
  /** MessageId → the trace header it was sent with. */
  private readonly byMessage = new Map<string, string>();
  /** ReceiptHandle → MessageId, for the messages that have a header: deleting one forgets it. */
  private readonly byReceipt = new Map<string, string>();

  install(app: HookableApp): void {
    app.addHook('preSerialization', async (request, reply, payload) => {
      if (reply.statusCode !== 200 || !payload || typeof payload !== 'object') return payload;
      const action = String(request.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
      const body = (request.body ?? {}) as SendBody;
      const header = request.headers[TRACE_HEADER];
      const httpHeader = typeof header === 'string' && header ? header : undefined;
      switch (action) {
        case 'SendMessage':
          this.remember((payload as { MessageId?: string }).MessageId, traceHeaderOf(body, httpHeader));
          break;
        case 'SendMessageBatch': {
          const entries = new Map((body.Entries ?? []).map((entry) => [entry.Id, entry]));
          for (const sent of (payload as { Successful?: { Id?: string; MessageId?: string }[] }).Successful ??
            []) {
            this.remember(sent.MessageId, traceHeaderOf(entries.get(sent.Id) ?? {}, httpHeader));
          }
          break;
        }
        case 'ReceiveMessage':
          this.attach(body, (payload as { Messages?: ReceivedMessage[] }).Messages ?? []);
          break;
        case 'DeleteMessage':
          this.forget(body.ReceiptHandle);
          break;
        case 'DeleteMessageBatch':
          for (const entry of (body as { Entries?: { ReceiptHandle?: string }[] }).Entries ?? []) {
            this.forget(entry.ReceiptHandle);
          }
          break;
      }
      return payload;
    });
  }

  private remember(messageId: string | undefined, traceHeader: string | undefined): void {
    if (messageId && traceHeader) this.byMessage.set(messageId, traceHeader);
  }

  private attach(body: SendBody, messages: ReceivedMessage[]): void {
    const names = [...(body.AttributeNames ?? []), ...(body.MessageSystemAttributeNames ?? [])];
    if (!names.includes('All') && !names.includes('AWSTraceHeader')) return;
    for (const message of messages) {
      const traceHeader = message.MessageId ? this.byMessage.get(message.MessageId) : undefined;
      if (!traceHeader || !message.MessageId) continue;
      message.Attributes = { ...message.Attributes, AWSTraceHeader: traceHeader };
      if (message.ReceiptHandle) this.byReceipt.set(message.ReceiptHandle, message.MessageId);
    }
  }

  private forget(receiptHandle: string | undefined): void {
    const messageId = receiptHandle ? this.byReceipt.get(receiptHandle) : undefined;
    if (!receiptHandle || !messageId) return;
    this.byReceipt.delete(receiptHandle);
    this.byMessage.delete(messageId);
  }
}

/** As SQS: the message system attribute wins over the HTTP header. */
function traceHeaderOf(entry: SendEntry, httpHeader: string | undefined): string | undefined {
  return entry.MessageSystemAttributes?.AWSTraceHeader?.StringValue ?? httpHeader;
}
