import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { type AwsClientOptions, createAwsClients } from '../lib/aws/clients.ts';
import { sameEndpointEverywhere } from '../lib/aws/config.ts';
import type { Log } from '../lib/log.ts';
import { startAccountApis } from './accountApis.ts';
import { CloudFormationApi } from './cloudformation/api.ts';
import { DeployedFunctions } from './cloudformation/deployedFunctions.ts';
import { DeployedIam } from './cloudformation/deployedIam.ts';
import { DeployedSchedules } from './cloudformation/deployedSchedules.ts';
import { Deployer } from './cloudformation/deployer.ts';
import { startQueryApiServer } from './cloudformation/queryProtocol.ts';
import { closeServer, startDynalite, startFauxqs } from './emulators.ts';
import { LocalEventBridge } from './eventBridge.ts';
import { IamAuthority } from './iam/authority.ts';
import { startIamGateway } from './iam/gateway.ts';
import { writeIamUsage } from './iam/usageFile.ts';
import { startLambdaApi } from './lambda/api.ts';
import { LocalLambda } from './lambda/runtime.ts';
import { startSfnServer } from './sfnServer.ts';
import { LocalStepFunctions } from './stepFunctions.ts';

export interface DeployTargetOptions {
  readonly region?: string;
  /** The edge port (LocalStack's is 4566, what serverless-localstack assumes); default a free one. */
  readonly port?: number;
  /** Where deployed functions are unzipped and log; default a new temporary directory, removed on stop. */
  readonly workDir?: string;
  /** How long each Wait state of a deployed state machine lasts (ms); default 250. */
  readonly waitMs?: number;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'CRITICAL' | 'SILENT';
  /**
   * Write the deployed roles and what each principal was allowed into LAMBDAG_IAM_USAGE_DIR
   * at stop, as the embedded stack does: for a deploy of the project's own template, whose
   * grants the suite's IAM-usage check covers (not a test's own templates).
   */
  readonly recordIamUsage?: boolean;
  /** The deployed schedules' clock and how often they are checked (0: only on fireDue()). */
  readonly scheduler?: { readonly now?: () => number; readonly checkEveryMs?: number };
}

export interface DeployTarget {
  /** The one edge endpoint: every service, routed by the request's signature (AWS_ENDPOINT_URL). */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** What a process needs to reach it as its admin (AWS_ENDPOINT_URL, the admin key, the region). */
  readonly env: Readonly<Record<string, string>>;
  /** Client options for code in this process that reaches it as its admin. */
  readonly clientOptions: AwsClientOptions;
  readonly cloudFormation: CloudFormationApi;
  readonly lambda: LocalLambda;
  /** The default event bus: deployed AWS::Events::Rule resources, fed by the executions' status changes. */
  readonly events: LocalEventBridge;
  /** The deployed AWS::Scheduler::Schedule resources, firing their state machine targets. */
  readonly schedules: DeployedSchedules;
  readonly workDir: string;
  stop(): Promise<void>;
}

/** LocalStack's account id, as the embedded stack's. */
const ACCOUNT_ID = '000000000000';
/** The admin key (LocalStack's `test`, serverless-localstack's default): not restricted by IAM. */
const ADMIN_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

/**
 * An empty account for `sls deploy --stage local` (docs/deploy.md): the emulators behind
 * the IAM gateway on one edge endpoint, with CloudFormation, STS, Lambda (deployed zips),
 * Step Functions and the SQS event sources. Nothing is provisioned until a stack is deployed;
 * the deployed roles are enforced as the gateway enforces the embedded stack's.
 */
export async function startDeployTarget(options: DeployTargetOptions = {}): Promise<DeployTarget> {
  const region = options.region ?? 'us-east-1';
  const accountId = ACCOUNT_ID;
  const log: Log = new Logger({ serviceName: 'lambdag-local', logLevel: options.logLevel ?? 'WARN' });
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'lambdag-deploy-'));
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopper of stoppers.splice(0).reverse()) {
      await stopper().catch((error: unknown) => log.error('deploy target: stop step failed', { error }));
    }
  };
  try {
    if (ownWorkDir) stoppers.push(async () => rmSync(workDir, { recursive: true, force: true }));
    const fauxqs = await startFauxqs();
    stoppers.push(fauxqs.stop);
    const dynamo = await startDynalite(undefined);
    stoppers.push(dynamo.stop);
    const authority = new IamAuthority(accountId, ADMIN_CREDENTIALS.accessKeyId);
    const upstreams: Record<string, string> = {
      sqs: fauxqs.endpoint,
      s3: fauxqs.endpoint,
      dynamodb: dynamo.endpoint,
    };
    const gateway = await startIamGateway({
      upstreams,
      authority,
      context: { taskDefinitionRoles: () => [] },
      log,
      ...(options.port !== undefined && { port: options.port }),
    });
    stoppers.push(() => closeServer(gateway.server));
    const endpoint = gateway.endpoint;
    const endpoints = sameEndpointEverywhere(endpoint);
    const reach: AwsClientOptions = { endpoints, region };
    const clientOptions: AwsClientOptions = { ...reach, credentials: ADMIN_CREDENTIALS };
    const admin = createAwsClients(clientOptions);

    const iam = new DeployedIam(authority, accountId);
    if (options.recordIamUsage) stoppers.push(async () => writeIamUsage(iam.everEnforced(), authority));
    const lambda = new LocalLambda({
      workDir,
      baseEnvironment: {
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_ENDPOINT_URL: endpoint,
        ...Object.fromEntries(
          ['SQS', 'S3', 'DYNAMODB', 'SFN', 'ECS'].map((s) => [`AWS_ENDPOINT_URL_${s}`, endpoint]),
        ),
        ...(options.logLevel && options.logLevel !== 'INFO' && { POWERTOOLS_LOG_LEVEL: options.logLevel }),
      },
      credentialsFor: (version) =>
        iam.session(version.functionName, version.role, 'lambda.amazonaws.com').credentials,
    });
    stoppers.push(() => lambda.stop());
    const sfn = new LocalStepFunctions(region, accountId, log);
    stoppers.push(() => sfn.stopAll());
    // The default event bus, fed by the executions' status changes, for deployed rules.
    const events = new LocalEventBridge({ region, accountId, log });
    sfn.publishStatusChanges((entry) => events.put(entry));
    stoppers.push(() => events.close());
    const sfnServer = await startSfnServer(sfn, log);
    stoppers.push(() => closeServer(sfnServer.server));
    upstreams.states = sfnServer.endpoint;
    const functions = new DeployedFunctions({
      region,
      accountId,
      reach,
      adminSqs: admin.sqs,
      host: lambda,
      sfn,
      events,
      iam,
      authority,
      log,
      waitMs: options.waitMs ?? 250,
      retryMs: 200,
    });
    // Stopped before the functions they invoke.
    stoppers.push(() => functions.stop());

    const schedules = new DeployedSchedules({ sfn, iam, authority, log, ...options.scheduler });
    stoppers.push(async () => schedules.stop());

    const deployer = new Deployer({
      region,
      accountId,
      log,
      context: (stack) => ({
        stackName: stack.stackName,
        region,
        accountId,
        clients: admin,
        iam,
        functions,
        schedules,
      }),
    });
    const cloudFormation = new CloudFormationApi({ region, accountId, deployer, s3: admin.s3 });
    const cfnServer = await startQueryApiServer({
      name: 'CloudFormation',
      xmlns: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
      operations: cloudFormation.operations,
      log,
    });
    stoppers.push(() => closeServer(cfnServer.server));
    stoppers.push(() => cloudFormation.settled());
    upstreams.cloudformation = cfnServer.endpoint;
    const lambdaApi = await startLambdaApi(lambda, log);
    stoppers.push(() => closeServer(lambdaApi.server));
    upstreams.lambda = lambdaApi.endpoint;
    const { sts, ecr } = await startAccountApis(accountId, log);
    stoppers.push(() => closeServer(sts.server));
    stoppers.push(() => closeServer(ecr.server));
    upstreams.sts = sts.endpoint;
    upstreams.ecr = ecr.endpoint;

    return {
      endpoint,
      region,
      accountId,
      env: {
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_ACCESS_KEY_ID: ADMIN_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ADMIN_CREDENTIALS.secretAccessKey,
      },
      clientOptions,
      cloudFormation,
      lambda,
      events,
      schedules,
      workDir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
