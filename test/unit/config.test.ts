import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../lib/aws/clients.ts';
import {
  configToEnv,
  DEFAULT_MAX_POLL_TICKS,
  readAwsEndpoints,
  readConfig,
  readEcsTaskSettings,
  readExecutionEndSettings,
  readPollSettings,
  sameEndpointEverywhere,
} from '../../lib/aws/config.ts';
import { ConfigError } from '../../lib/errors.ts';

const env = {
  LAMBDAG_RUNS_TABLE: 'runs',
  LAMBDAG_IDEMPOTENCY_TABLE: 'idempotency',
  LAMBDAG_BUCKET: 'bucket',
  LAMBDAG_QUEUE_URL_DEFAULT: 'http://127.0.0.1:1/000000000000/steps',
};

describe('readConfig', () => {
  it('reads the record it is given, and round-trips through configToEnv', () => {
    const config = readConfig({ ...env, LAMBDAG_REQUEST_METRICS: '1', LAMBDAG_RETENTION_DAYS: '7' });
    expect(config).toMatchObject({
      runsTable: 'runs',
      requestMetrics: true,
      retentionDays: 7,
      stage: 'local',
    });
    expect(readConfig(configToEnv(config))).toEqual(config);
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => readConfig({ ...env, LAMBDAG_BUCKET: '' })).toThrow(
      new ConfigError('LAMBDAG_BUCKET', 'is not set'),
    );
    expect(() => readConfig({ ...env, LAMBDAG_REQUEST_METRICS: 'yes' })).toThrow(
      /^LAMBDAG_REQUEST_METRICS: /,
    );
    expect(readConfig({ ...env, LAMBDAG_REQUEST_METRICS: '0' }).requestMetrics).toBe(false);
  });
});

describe("PollRun's and executionEnded's settings", () => {
  it('have defaults', () => {
    expect(readPollSettings({})).toMatchObject({
      stallSeconds: 300,
      watchSeconds: 15,
      maxTicks: DEFAULT_MAX_POLL_TICKS,
    });
    expect(readExecutionEndSettings({})).toEqual({
      cancelGraceSeconds: 60,
      checkMs: 1_000,
      startWaitMs: 60_000,
    });
  });

  it('take the environment given, and name the variable that is wrong', () => {
    expect(readPollSettings({ LAMBDAG_POLL_WATCH_SECONDS: '0', LAMBDAG_MAX_POLL_TICKS: '3' })).toMatchObject({
      watchSeconds: 0,
      maxTicks: 3,
    });
    expect(() => readPollSettings({ LAMBDAG_MAX_POLL_TICKS: 'many' })).toThrow(/^LAMBDAG_MAX_POLL_TICKS: /);
    expect(() => readPollSettings({ LAMBDAG_STALL_SECONDS: '0' })).toThrow(/^LAMBDAG_STALL_SECONDS: /);
    expect(() => readExecutionEndSettings({ LAMBDAG_EXECUTION_END_CHECK_MS: '-1' })).toThrow(
      /^LAMBDAG_EXECUTION_END_CHECK_MS: /,
    );
  });
});

describe("an ECS task's settings", () => {
  it('validate the heartbeat and pass the registry module through', () => {
    expect(readEcsTaskSettings({})).toEqual({ heartbeatMs: 30_000 });
    expect(
      readEcsTaskSettings({ LAMBDAG_ECS_HEARTBEAT_SECONDS: '2', LAMBDAG_REGISTRY_MODULE: '/r.ts' }),
    ).toEqual({
      heartbeatMs: 2_000,
      registryModule: '/r.ts',
    });
    expect(() => readEcsTaskSettings({ LAMBDAG_ECS_HEARTBEAT_SECONDS: 'often' })).toThrow(
      /^LAMBDAG_ECS_HEARTBEAT_SECONDS: /,
    );
  });
});

describe('AWS endpoints', () => {
  it("are each service's own variable, else AWS_ENDPOINT_URL, else none", () => {
    expect(readAwsEndpoints({})).toEqual({});
    expect(
      readAwsEndpoints({ AWS_ENDPOINT_URL: 'http://edge:4566', AWS_ENDPOINT_URL_SQS: 'http://sqs:9324' }),
    ).toMatchObject({ sqs: 'http://sqs:9324', s3: 'http://edge:4566', sfn: 'http://edge:4566' });
  });

  it('passed explicitly reach every client, with path-style S3 and SQS sent to the endpoint', async () => {
    const aws = createAwsClients({
      endpoints: sameEndpointEverywhere('http://127.0.0.1:4566'),
      region: 'eu-west-3',
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
    });
    for (const client of [aws.sqs, aws.s3, aws.dynamodb, aws.sfn, aws.ecs]) {
      expect(await client.config.region()).toBe('eu-west-3');
      expect((await client.config.credentials()).accessKeyId).toBe('key');
      expect(client.config.endpoint).toBeDefined();
    }
    const endpoint = await aws.sfn.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(aws.s3.config.forcePathStyle).toBe(true);
    expect(aws.sqs.config.useQueueUrlAsEndpoint).toBe(false);
  });
});
