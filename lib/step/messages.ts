import { z } from 'zod';
import { InvalidMessageError } from '../errors.ts';
import { messageGroupOf } from '../job/fairness.ts';
import type { PayloadStore } from './payload.ts';

/** The body of a step message: one attempt of one step. */
export const StepMessageSchema = z.object({
  v: z.literal(1),
  runId: z.string().min(1),
  job: z.string().min(1),
  step: z.string().min(1),
  attempt: z.number().int().min(1),
  /** The run's input, so the worker can rebuild the job's DAG without a read. */
  input: z.unknown(),
  /**
   * Not to run before this time (epoch ms): set when a retry's delay is longer than
   * SQS's 15-minute DelaySeconds cap; the worker sends the message back until then.
   */
  notBefore: z.number().int().optional(),
  /**
   * Outputs of this step's upstream steps, by step key, carried by the step that released
   * it (a recorded output is final; small inline outputs only): the worker need not read
   * them. Absent (re-sends, retries, fan-in), the worker reads the upstream records.
   */
  upstream: z.record(z.string(), z.unknown()).optional(),
  /**
   * The run's priority (0-9), when it was started with one: the steps it releases inherit it
   * (lib/job/priority.ts).
   */
  priority: z.number().int().optional(),
  /**
   * The job's fairness key for this run, when it sets one: the MessageGroupId of this
   * message and of every copy of it (absent: the run id; lib/job/fairness.ts).
   */
  fairnessKey: z.string().optional(),
  /**
   * The run's expiry (epoch seconds, RunRecord.expiresAt): the TTL of the items this attempt
   * writes (its events), so they go with the run. Absent: the run has none.
   */
  expiresAt: z.number().int().optional(),
  /**
   * Set for steps that run on ECS (`runtime: 'ecs'`, or promoted after a Lambda timeout):
   * the worker starts an ECS task (with these sizes) instead of running it.
   */
  ecs: z
    .object({
      cpu: z.number().int().optional(),
      memoryMb: z.number().int().optional(),
      /** The step was promoted to ECS from this attempt on (which does not count as a retry). */
      promotedAt: z.number().int().optional(),
    })
    .optional(),
});
export type StepMessage = z.infer<typeof StepMessageSchema>;

const ClaimCheckSchema = z.object({ v: z.literal(1), claim: z.string().min(1) });

/** Message bodies stay under the queue's maximum; the margin leaves room for message attributes. */
const ATTRIBUTE_MARGIN = 1024;

/** Encode a step message; if it is larger than the queue allows, put it in S3 and send a pointer. */
export async function encodeStepMessage(
  message: StepMessage,
  payloads: PayloadStore,
  maxMessageBytes: number,
): Promise<string> {
  const body = JSON.stringify(message);
  if (Buffer.byteLength(body) <= maxMessageBytes - ATTRIBUTE_MARGIN) return body;
  const claim = await payloads.putClaim(body);
  return JSON.stringify({ v: 1, claim });
}

/** Decode a message body, following a claim check. Throws InvalidMessageError for anything unparseable. */
export async function decodeStepMessage(body: string, payloads: PayloadStore): Promise<StepMessage> {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new InvalidMessageError(`step message is not JSON: ${body.slice(0, 120)}`);
  }
  const claim = ClaimCheckSchema.safeParse(raw);
  if (claim.success) raw = await payloads.getClaim(claim.data.claim);
  const parsed = StepMessageSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidMessageError(
      `step message is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

/** The MessageGroupId a step message and its copies are sent with (SQS fair queues). */
export const messageGroupOfMessage = (message: StepMessage): string =>
  messageGroupOf(message.runId, message.fairnessKey);

/** SQS's DelaySeconds ceiling. */
export const MAX_DELAY_SECONDS = 900;

/** Seconds to send the message back for, when it arrived before its `notBefore`; else undefined. */
export function deferralSeconds(message: StepMessage, now = Date.now()): number | undefined {
  if (message.notBefore === undefined) return undefined;
  const left = Math.ceil((message.notBefore - now) / 1000);
  return left > 0 ? Math.min(MAX_DELAY_SECONDS, left) : undefined;
}
