/**
 * The AWS limits a lambdag run meets as it grows, each with where it is stated and when it
 * was read. bench/scaleModel.ts checks a run's rates against them; docs/scaling.md's
 * table of limits gives the same sources, with the ones the model does not use. A limit AWS does not publish as a number is left out of the model and named in the
 * docs instead (Step Functions' account token buckets vary by region and account age).
 */
export interface AwsLimit {
  readonly value: number;
  readonly unit: string;
  readonly source: string;
  /** When the source was read. */
  readonly read: string;
}

import { AWS_ESM_RAMP_PER_MINUTE, AWS_ESM_START_CONCURRENCY } from '../local/limits/eventSourceRamp.ts';
import { AWS_PARTITION_WRITE_UNITS } from '../local/limits/partitionWriteLimits.ts';
import { AWS_SQS_IN_FLIGHT_MESSAGES } from '../local/limits/sqsInFlightLimits.ts';

const READ = '2026-12-06';

export const LIMITS = {
  /** A partition serves at most this many write units a second; one item never spans partitions. */
  partitionWriteUnits: {
    value: AWS_PARTITION_WRITE_UNITS,
    unit: 'WCU/s per partition (so per item)',
    source:
      'DynamoDB Developer Guide, "Understanding DynamoDB warm throughput in different scenarios" (docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html)',
    read: READ,
  },
  /** A new on-demand table serves this much at once; more as its peak grows. */
  onDemandWarmWriteUnits: {
    value: 4_000,
    unit: 'WCU/s for a new on-demand table, before it has seen a higher peak',
    source: 'same page, "Warm throughput for an on-demand table"',
    read: READ,
  },
  /** Received and not yet deleted, per standard queue. */
  sqsInFlight: {
    value: AWS_SQS_IN_FLIGHT_MESSAGES,
    unit: 'in-flight messages per standard queue (ReceiveMessage gets OverLimit on short polls, nothing on long polls)',
    source:
      'SQS Developer Guide, "Amazon SQS standard queue quotas" (docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html)',
    read: READ,
  },
  /** Standard mode: the event source mapping starts with 5 concurrent batches... */
  esmStartConcurrency: {
    value: AWS_ESM_START_CONCURRENCY,
    unit: 'concurrent batches when messages appear (standard mode)',
    source:
      'Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings" (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)',
    read: READ,
  },
  /** ... and adds up to this many a minute ... */
  esmRampPerMinute: {
    value: AWS_ESM_RAMP_PER_MINUTE,
    unit: 'more concurrent batches a minute (standard mode); provisioned mode scales 3 times faster',
    source: 'same page',
    read: READ,
  },
  /** ... up to this many per mapping (also MaximumConcurrency's ceiling). */
  esmMaxConcurrency: {
    value: 1_000,
    unit: 'concurrent batches per event source mapping in standard mode (MaximumConcurrency 2-1,000)',
    source: 'same page; CloudFormation AWS::Lambda::EventSourceMapping ScalingConfig',
    read: READ,
  },
  /** Per account and region, across all functions, unless raised. */
  accountConcurrency: {
    value: 1_000,
    unit: 'concurrent executions per account and region by default (a quota you can raise)',
    source: 'Lambda Developer Guide, "Understanding Lambda function scaling" (lambda-concurrency.html)',
    read: READ,
  },
} as const satisfies Record<string, AwsLimit>;
