import type { AwsClients } from '../../lib/aws/clients.ts';

/** What the SDK throws when AWS throttles and its own retries are spent. */
export class InjectedThrottlingError extends Error {
  override readonly name = 'ThrottlingException';
  readonly $fault = 'client';
  readonly $metadata = { httpStatusCode: 400, attempts: 3 };
}

/**
 * Makes a share of the handlers' AWS calls fail as throttled, before the SDK's
 * retry step (so the error reaches lambdag as it would once the SDK gave up).
 * `counts` says how many were injected, by service.
 */
export class ThrottlingInjector {
  readonly counts: Record<string, number> = {};
  private enabled = true;

  constructor(
    private readonly rate: number,
    private readonly random: () => number,
  ) {}

  /** Install on the clients the handlers use (the event source's own polling is left alone). */
  install(aws: AwsClients): void {
    const stacks: [string, Pick<AwsClients['sqs'], 'middlewareStack'>['middlewareStack']][] = [
      ['sqs', aws.sqs.middlewareStack],
      ['s3', aws.s3.middlewareStack as never],
      ['dynamodb', aws.dynamodb.middlewareStack as never],
    ];
    for (const [service, stack] of stacks) {
      stack.add(
        (next) => async (args) => {
          if (this.enabled && this.random() < this.rate) {
            this.counts[service] = (this.counts[service] ?? 0) + 1;
            throw new InjectedThrottlingError(`injected throttling of a ${service} call`);
          }
          return next(args);
        },
        { step: 'initialize', name: 'lambdagInjectedThrottling' },
      );
    }
  }

  /** Stop injecting (for the audit's own reads). */
  disable(): void {
    this.enabled = false;
  }

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}
