import type { SQSClient } from '@aws-sdk/client-sqs';

export interface SendAuditOptions {
  /**
   * Send SendMessage / SendMessageBatch calls twice: real duplicate deliveries, as SQS
   * may produce. `true` duplicates every call; a number is the chance per call.
   */
  readonly duplicateSends?: boolean | number;
  /** Random source for a duplicate chance (seeded in simulations). */
  readonly random?: () => number;
}

/**
 * Counts the step messages an SQS client sends (per run and step) and can
 * duplicate every send. Installed as SDK middleware on the clients the
 * handlers use, so the engine code under test is unchanged.
 */
export class SendAudit {
  private readonly counts = new Map<string, number>();
  /** Calls sent a second time. */
  duplicated = 0;

  constructor(private readonly options: SendAuditOptions = {}) {}

  /** How many copies of step messages for this run and step reached the queue. */
  sends(runId: string, step: string): number {
    return this.counts.get(`${runId}/${step}`) ?? 0;
  }

  install(sqs: SQSClient): void {
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (
          context.commandName !== 'SendMessageCommand' &&
          context.commandName !== 'SendMessageBatchCommand'
        ) {
          return next(args);
        }
        const bodies = bodiesOf(args.input as SendInput);
        const result = await next(args);
        this.count(bodies);
        if (this.shouldDuplicate()) {
          await next(args);
          this.count(bodies);
          this.duplicated++;
        }
        return result;
      },
      { step: 'initialize', name: 'lambdagSendAudit' },
    );
  }

  private shouldDuplicate(): boolean {
    const chance = this.options.duplicateSends;
    if (typeof chance === 'number') return (this.options.random ?? Math.random)() < chance;
    return chance === true;
  }

  private count(bodies: string[]): void {
    for (const body of bodies) {
      const key = keyOf(body);
      if (key) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
  }
}

interface SendInput {
  MessageBody?: string;
  Entries?: { MessageBody?: string }[];
}

function bodiesOf(input: SendInput): string[] {
  if (input.Entries) return input.Entries.map((e) => e.MessageBody ?? '');
  return [input.MessageBody ?? ''];
}

/** `runId/step` of a step message; claim-check pointers are counted under their claim key. */
function keyOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { runId?: unknown; step?: unknown; claim?: unknown };
    if (typeof parsed.runId === 'string' && typeof parsed.step === 'string')
      return `${parsed.runId}/${parsed.step}`;
    if (typeof parsed.claim === 'string') return `claim/${parsed.claim}`;
  } catch {
    // Not a step message: nothing to audit.
  }
  return undefined;
}
