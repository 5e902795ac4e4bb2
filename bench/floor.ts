import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Deps } from '../lib/deps.ts';

/**
 * The floor: the fewest emulator requests one step needs — receive its message, put the
 * idempotency record, put its output, record its result, send its dependent, delete its
 * message — issued back to back with no lambdag code in between, on the same emulators
 * and clients as the run being measured. lambdag's figures are reported as ratios to it.
 */
export class Floor {
  private constructor(
    private readonly deps: Deps,
    private readonly queueUrl: string,
    private readonly sinkUrl: string,
  ) {}

  /** A queue of its own, so the stack's event source does not take the floor's messages. */
  static async create(deps: Deps): Promise<Floor> {
    const create = async (name: string) => {
      const { QueueUrl } = await deps.aws.sqs.send(new CreateQueueCommand({ QueueName: name }));
      if (!QueueUrl) throw new Error('the emulator did not return a queue URL');
      return QueueUrl;
    };
    const stamp = Date.now();
    return new Floor(deps, await create(`bench-floor-${stamp}`), await create(`bench-floor-sink-${stamp}`));
  }

  async dispose(): Promise<void> {
    for (const url of [this.queueUrl, this.sinkUrl])
      await this.deps.aws.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  }

  /** `n` steps in a chain, one at a time: ms per step. */
  async serial(n: number): Promise<{ steps: number; ms: number; msPerStep: number }> {
    const started = performance.now();
    await this.send(`serial-0`);
    for (let i = 0; i < n; i++) {
      const [message] = await this.receive(1);
      if (!message) throw new Error('floor: the chain message did not arrive');
      await this.stepWrites(`serial-${started}-${i}`);
      if (i + 1 < n) await this.send(`serial-${i + 1}`);
      await this.deps.aws.sqs.send(
        new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
    const ms = performance.now() - started;
    return { steps: n, ms, msPerStep: ms / n };
  }

  /**
   * `n` independent steps worked by `concurrency` pollers taking batches of `batchSize`,
   * as the event source does: steps per second.
   */
  async fanout(
    n: number,
    concurrency: number,
    batchSize: number,
  ): Promise<{ steps: number; ms: number; stepsPerSecond: number }> {
    const ids = Array.from({ length: n }, (_, i) => `fan-${Date.now()}-${i}`);
    for (let i = 0; i < ids.length; i += 10) {
      await this.deps.aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: ids.slice(i, i + 10).map((id, j) => ({ Id: String(j), MessageBody: id })),
        }),
      );
    }
    const started = performance.now();
    let done = 0;
    const worker = async () => {
      while (done < n) {
        // Short polls: a long poll would park the last workers for a second after the last message.
        const messages = await this.receive(batchSize, 0);
        if (messages.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        await Promise.all(
          messages.map(async (m) => {
            await this.stepWrites(m.Body ?? '');
            await this.send(`${m.Body}-next`, true);
          }),
        );
        await this.deps.aws.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        done += messages.length;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const ms = performance.now() - started;
    return { steps: n, ms, stepsPerSecond: n / (ms / 1000) };
  }

  /** An output of `bytes` put to S3 and read back whole, as one step hands it to the next: ms. */
  async bigOutput(bytes: number): Promise<{ bytes: number; ms: number }> {
    const { config, aws } = this.deps;
    const key = `bench/floor/big-${Date.now()}.json`;
    const body = JSON.stringify('x'.repeat(bytes));
    const started = performance.now();
    await aws.s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: body }));
    const out = await aws.s3.send(new GetObjectCommand({ Bucket: config.bucket, Key: key }));
    const read = JSON.parse((await out.Body?.transformToString()) ?? '""') as string;
    if (read.length !== bytes) throw new Error(`floor: read ${read.length} of ${bytes} bytes`);
    return { bytes, ms: performance.now() - started };
  }

  /** Idempotency put, output put, result update: what each step writes. */
  private async stepWrites(id: string): Promise<void> {
    const { config, aws } = this.deps;
    await aws.dynamodb.send(
      new PutItemCommand({
        TableName: config.idempotencyTable,
        Item: { id: { S: `floor#${id}` }, status: { S: 'INPROGRESS' } },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
    await aws.s3.send(
      new PutObjectCommand({ Bucket: config.bucket, Key: `bench/floor/${id}.json`, Body: '0' }),
    );
    await aws.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.runsTable,
        Key: { pk: { S: 'BENCH#floor' }, sk: { S: `STEP#${id}` } },
        UpdateExpression: 'SET #s = :s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'SUCCEEDED' } },
      }),
    );
  }

  /** The dependent's message; in the fan-out it goes to a queue nobody reads (a sink). */
  private async send(body: string, sink = false): Promise<void> {
    await this.deps.aws.sqs.send(
      new SendMessageCommand({ QueueUrl: sink ? this.sinkUrl : this.queueUrl, MessageBody: body }),
    );
  }

  private async receive(max: number, waitSeconds = 1): Promise<Message[]> {
    const { Messages = [] } = await this.deps.aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitSeconds,
      }),
    );
    return Messages;
  }
}
