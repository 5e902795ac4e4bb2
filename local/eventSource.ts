import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  OverLimit,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Log } from '../lib/log.ts';
import { InvocationTrace } from './invocationTrace.ts';
import { lambdaContext } from './lambdaContext.ts';
import type { EventSourceRamp, RampLevel } from './limits/eventSourceRamp.ts';
import { functionHash, invocationTraceHeader, stopsChain } from './lineage.ts';
import { LoopBreaker } from './loopBreaker.ts';
import { PollerGate } from './pollerGate.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/** One SQS event source mapping, as serverless.yml declares it. */
export interface EventSourceMapping {
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly batchSize: number;
  readonly maximumConcurrency: number;
  readonly reportBatchItemFailures: boolean;
  /** The function's RecursiveLoop (serverless.yml): Terminate stops a chain past Lambda's limit. */
  readonly recursiveLoop: 'Allow' | 'Terminate';
  readonly handler: SqsHandler;
  /** The client the mapping polls and deletes with: on AWS, the function's execution role. */
  readonly sqs?: SQSClient;
}

export interface EventSourceFaults {
  /** Return true to "crash" the worker after its handler returned for this record: the message is not deleted. */
  readonly crashAfterHandler?: (record: SQSRecord) => boolean;
}

export interface EventSourceStats {
  invocations: number;
  received: number;
  deleted: number;
  /** Records the handler reported in batchItemFailures. */
  reportedFailures: number;
  /** Invocations whose handler threw: the whole batch comes back after the visibility timeout. */
  failedInvocations: number;
  crashedAfterHandler: number;
  /**
   * Messages not delivered because they would have carried a recursive loop past Lambda's
   * limit (as AWS's RecursiveInvocationsDropped metric): moved to the queue's DLQ, or
   * dropped where it has none.
   */
  recursiveInvocationsDropped: number;
  /** Receives the queue refused with OverLimit (its in-flight limit): the poller backed off. */
  overLimitReceives: number;
}

/** The concurrency one mapping's ramp reached over time (with `limits` on: local/limits/eventSourceRamp.ts). */
export interface MappingConcurrency {
  readonly functionName: string;
  readonly queueArn: string;
  readonly maximumConcurrency: number;
  readonly levels: readonly RampLevel[];
}

/** How long one ReceiveMessage waits for messages; short so that stop() is quick. */
const LONG_POLL_SECONDS = 1;
/** How long a poller refused with OverLimit waits before it receives again (a long poll's length). */
const OVER_LIMIT_BACKOFF_MS = LONG_POLL_SECONDS * 1000;

/**
 * Lambda's SQS event source, in-process: for each mapping, up to
 * `maximumConcurrency` pollers receive batches of up to `batchSize`, invoke
 * the handler, and delete what succeeded. A handler that throws leaves the whole
 * batch to come back after the visibility timeout; with ReportBatchItemFailures
 * only the reported records do. Redelivery, receive counts and DLQ redrive are
 * the queue's own (fauxqs), as on AWS. The pollers of a mapping share a PollerGate, so an
 * idle queue has one long poll on it, as on SQS (fauxqs would answer every waiting poll).
 * Lambda's recursive loop detection too: each invocation runs with a trace header whose
 * lineage counts the chain's invocations (`trace`; the handlers' SQS clients send it with
 * what they send), and a message past the limit of a function that does not allow recursion
 * is set aside instead of delivered (local/lineage.ts, local/loopBreaker.ts).
 * With `scaling`, each mapping ramps up as Lambda's standard mode does instead of starting at
 * its full concurrency (local/limits/eventSourceRamp.ts). A receive refused with OverLimit (the
 * queue's in-flight limit) is not a failure: the poller backs off and receives again, and the
 * messages stay in the queue.
 */
export class SqsEventSource {
  private readonly counters: EventSourceStats = {
    invocations: 0,
    received: 0,
    deleted: 0,
    reportedFailures: 0,
    failedInvocations: 0,
    crashedAfterHandler: 0,
    recursiveInvocationsDropped: 0,
    overLimitReceives: 0,
  };
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private inFlight = 0;
  private readonly loopBreaker: LoopBreaker;
  private readonly ramps = new Map<EventSourceMapping, EventSourceRamp>();
  /** Invocations running, per mapping (what its ramp records). */
  private readonly running = new Map<EventSourceMapping, number>();

  constructor(
    private readonly sqs: SQSClient,
    private readonly mappings: readonly EventSourceMapping[],
    private readonly log: Log,
    private readonly faults: EventSourceFaults = {},
    /** Where the invocations' trace headers are kept for the handlers' clients to send. */
    private readonly trace = new InvocationTrace(),
    /** Each mapping's scaling ramp; without it a mapping starts at its full concurrency. */
    private readonly scaling?: (mapping: EventSourceMapping) => EventSourceRamp,
  ) {
    this.loopBreaker = new LoopBreaker(sqs, log);
  }

  start(): void {
    // Every poller's long poll listens on the one abort signal.
    setMaxListeners(0, this.abort.signal);
    for (const mapping of this.mappings) {
      // The mapping's pollers share one gate: one long poll on an idle queue (see PollerGate).
      const gate = new PollerGate();
      const ramp = this.scaling?.(mapping);
      if (ramp) this.ramps.set(mapping, ramp);
      for (let i = 0; i < mapping.maximumConcurrency; i++) this.loops.push(this.poll(mapping, gate, i));
    }
  }

  stats(): EventSourceStats {
    return { ...this.counters };
  }

  /** Each ramped mapping's concurrency over time (empty without `scaling`). */
  concurrency(): MappingConcurrency[] {
    return [...this.ramps.entries()].map(([mapping, ramp]) => ({
      functionName: mapping.functionName,
      queueArn: mapping.queueArn,
      maximumConcurrency: mapping.maximumConcurrency,
      levels: ramp.series(),
    }));
  }

  /** Resolves when no invocation is running and every mapped queue is empty (or the timeout passes). */
  async drain(timeoutMs = 60_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.inFlight === 0 && (await this.queuesEmpty())) return true;
      await sleep(100);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async queuesEmpty(): Promise<boolean> {
    for (const mapping of this.mappings) {
      const { Attributes: a = {} } = await this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: mapping.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      if (
        Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) >
        0
      ) {
        return false;
      }
    }
    return true;
  }

  private async poll(mapping: EventSourceMapping, gate: PollerGate, index: number): Promise<void> {
    const ramp = this.ramps.get(mapping);
    // A poller past the ramp's level waits for its turn; once running it keeps running.
    if (ramp && !(await ramp.waitFor(index, this.abort.signal))) return;
    const max = Math.min(10, mapping.batchSize);
    let idle = false;
    while (await gate.turn(idle, this.abort.signal)) {
      try {
        const { Messages = [] } = await gate.receive(() =>
          (mapping.sqs ?? this.sqs).send(
            new ReceiveMessageCommand({
              QueueUrl: mapping.queueUrl,
              MaxNumberOfMessages: max,
              WaitTimeSeconds: LONG_POLL_SECONDS,
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
            { abortSignal: this.abort.signal },
          ),
        );
        idle = Messages.length < max;
        gate.received(Messages.length, max);
        if (Messages.length) {
          ramp?.begin();
          await this.invoke(mapping, Messages);
        }
      } catch (error) {
        if (this.stopped) return;
        if (error instanceof OverLimit) {
          // As Lambda's pollers: the queue is full of in-flight messages; wait for deletes.
          this.counters.overLimitReceives++;
          this.log.debug('event source: the queue is at its in-flight limit; backing off', {
            function: mapping.functionName,
          });
          idle = true;
          await sleep(OVER_LIMIT_BACKOFF_MS);
          continue;
        }
        this.log.error('event source poll failed; retrying', { function: mapping.functionName, error });
        await sleep(250);
      }
    }
  }

  private async invoke(mapping: EventSourceMapping, received: Message[]): Promise<void> {
    const fnHash = functionHash(mapping.functionArn);
    const messages: Message[] = [];
    for (const message of received) {
      if (stopsChain(message.Attributes?.AWSTraceHeader, fnHash, mapping.recursiveLoop)) {
        await this.loopBreaker.stop(mapping, message, fnHash);
        this.counters.recursiveInvocationsDropped++;
      } else {
        messages.push(message);
      }
    }
    if (!messages.length) return;
    const records = messages.map((m) => toRecord(m, mapping));
    const traceHeader = invocationTraceHeader(
      messages.map((m) => m.Attributes?.AWSTraceHeader),
      fnHash,
    );
    this.counters.invocations++;
    this.counters.received += records.length;
    this.inFlight++;
    const running = (this.running.get(mapping) ?? 0) + 1;
    this.running.set(mapping, running);
    this.ramps.get(mapping)?.invoked(running);
    let toDelete: SQSRecord[] = [];
    try {
      const response = await this.trace.run(traceHeader, () =>
        mapping.handler({ Records: records }, lambdaContext(mapping, randomUUID())),
      );
      const failed = new Set(
        mapping.reportBatchItemFailures
          ? (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier)
          : [],
      );
      this.counters.reportedFailures += failed.size;
      toDelete = records.filter((r) => !failed.has(r.messageId));
    } catch (error) {
      // As on Lambda: the invocation failed, so nothing is deleted and the batch is redelivered.
      this.counters.failedInvocations++;
      this.log.warn('step worker invocation failed; the batch will be redelivered', { error });
    } finally {
      this.inFlight--;
      this.running.set(mapping, (this.running.get(mapping) ?? 1) - 1);
    }
    const crashAfterHandler = this.faults.crashAfterHandler;
    if (crashAfterHandler) {
      const survivors = toDelete.filter((r) => !crashAfterHandler(r));
      this.counters.crashedAfterHandler += toDelete.length - survivors.length;
      toDelete = survivors;
    }
    if (!toDelete.length) return;
    const out = await (mapping.sqs ?? this.sqs).send(
      new DeleteMessageBatchCommand({
        QueueUrl: mapping.queueUrl,
        Entries: toDelete.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
    this.counters.deleted += out.Successful?.length ?? 0;
    if (out.Failed?.length) this.log.warn('could not delete processed messages', { failed: out.Failed });
  }
}

function toRecord(message: Message, mapping: EventSourceMapping): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ...(attributes.AWSTraceHeader === undefined ? {} : { AWSTraceHeader: attributes.AWSTraceHeader }),
      // A fair queue's (or a FIFO queue's) message group, as Lambda passes it on.
      ...(attributes.MessageGroupId === undefined ? {} : { MessageGroupId: attributes.MessageGroupId }),
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: mapping.queueArn,
    awsRegion: mapping.queueArn.split(':')[3] ?? 'us-east-1',
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
