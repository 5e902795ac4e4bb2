import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import AdmZip from 'adm-zip';
import type { Context } from 'aws-lambda';
import { LocalStackError } from '../../lib/errors.ts';
import type { FunctionDeclaration, FunctionHost } from '../cloudformation/functionHost.ts';
import { lambdaContext } from '../lambdaContext.ts';

/** One deployed code version of a function: its zip's hash and where it is unzipped. */
export interface FunctionVersion extends FunctionDeclaration {
  readonly codeSha256: string;
  readonly codeSize: number;
  readonly codeDir: string;
  readonly lastModified: Date;
}

/** One invocation, as the runtime records it (tests read which code ran). */
export interface InvocationRecord {
  readonly functionName: string;
  readonly codeSha256: string;
  readonly requestId: string;
  readonly error?: string;
}

export interface LocalLambdaOptions {
  /** Where versions are unzipped and the functions' logs are written. */
  readonly workDir: string;
  /** What every function's environment gets besides its own: the endpoints, the region. */
  readonly baseEnvironment: Readonly<Record<string, string>>;
  /** The access key a function signs with: a session of its role (local/iam/). */
  readonly credentialsFor: (version: FunctionVersion) => { accessKeyId: string; secretAccessKey: string };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * One execution environment: a worker thread with the function's environment (its own
 * `process.env`) and memory limit, running one invocation at a time, as a Lambda sandbox.
 */
class ExecutionEnvironment {
  private readonly worker: Worker;
  private readonly pending = new Map<string, Pending>();
  busy = false;
  dead = false;
  /** Its function was updated or deleted: it ends when its invocation does. */
  retired = false;

  constructor(version: FunctionVersion, env: Record<string, string>, log: WriteStream) {
    const dot = version.handler.lastIndexOf('.');
    this.worker = new Worker(new URL('./bootstrap.mjs', import.meta.url), {
      env,
      workerData: {
        handlerFile: join(version.codeDir, `${version.handler.slice(0, dot)}.mjs`),
        exportName: version.handler.slice(dot + 1),
      },
      resourceLimits: { maxOldGenerationSizeMb: version.memorySize },
      // The function's output goes to its log file, as Lambda's goes to CloudWatch Logs.
      stdout: true,
      stderr: true,
    });
    this.worker.stdout.pipe(log, { end: false });
    this.worker.stderr.pipe(log, { end: false });
    this.worker.on(
      'message',
      ({ id, result, error }: { id: string; result?: unknown; error?: Record<string, string> }) => {
        const waiting = this.pending.get(id);
        this.pending.delete(id);
        if (!waiting) return;
        if (error)
          waiting.reject(Object.assign(new Error(error.message), { name: error.name, stack: error.stack }));
        else waiting.resolve(result);
      },
    );
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) =>
      this.fail(
        new LambdaRuntimeError('Runtime.ExitError', `RequestId: the runtime exited with code ${code}`),
      ),
    );
  }

  invoke(id: string, event: unknown, context: Context, deadline: number): Promise<unknown> {
    const { getRemainingTimeInMillis: _, done: _d, fail: _f, succeed: _s, ...plain } = context;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, event, context: plain, deadline });
    });
  }

  private fail(error: Error): void {
    this.dead = true;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }

  async terminate(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

/** An error Lambda itself reports (a timeout, a crashed runtime), named as Lambda names it. */
export class LambdaRuntimeError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Lambda for deployed functions: each runs its own zip's bundle (unzipped into a directory
 * per code version), in worker threads with the function's environment, memory limit and
 * role's key, within its timeout. Updating a function's code or configuration makes a new
 * version: the next invocations get new execution environments; the old ones finish and go.
 */
export class LocalLambda implements FunctionHost {
  private readonly versions = new Map<string, FunctionVersion>();
  private readonly environments = new Map<string, ExecutionEnvironment[]>();
  private readonly logs = new Map<string, WriteStream>();
  readonly invocations: InvocationRecord[] = [];

  constructor(private readonly options: LocalLambdaOptions) {}

  /** Create or replace a function; its zip (Code.S3Bucket/S3Key) is unzipped into a directory of its own. */
  async deploy(declaration: FunctionDeclaration, readZip: () => Promise<Buffer>): Promise<FunctionVersion> {
    const config = { ...declaration, zip: await readZip() };
    const codeSha256 = createHash('sha256').update(config.zip).digest('base64');
    const dirName = createHash('sha256').update(config.zip).digest('hex').slice(0, 16);
    const codeDir = join(this.options.workDir, 'functions', config.functionName, dirName);
    mkdirSync(codeDir, { recursive: true });
    try {
      new AdmZip(config.zip).extractAllTo(codeDir, true);
    } catch (error) {
      throw new LocalStackError(
        `${config.functionName}: its code is not a zip file (${(error as Error).message})`,
      );
    }
    const { zip, ...rest } = config;
    const version: FunctionVersion = {
      ...rest,
      codeSha256,
      codeSize: zip.length,
      codeDir,
      lastModified: new Date(),
    };
    this.versions.set(config.functionName, version);
    await this.retire(config.functionName);
    return version;
  }

  get(functionName: string): FunctionVersion | undefined {
    return this.versions.get(nameOf(functionName));
  }

  list(): FunctionVersion[] {
    return [...this.versions.values()];
  }

  async delete(functionName: string): Promise<void> {
    this.versions.delete(nameOf(functionName));
    await this.retire(nameOf(functionName));
  }

  /**
   * Invoke as Lambda's Invoke does (RequestResponse): the handler's result, or its error. The
   * caller's context is not used: the sandbox gets its own, as on Lambda.
   */
  async invoke(functionName: string, event: unknown): Promise<unknown> {
    const name = nameOf(functionName);
    const version = this.versions.get(name);
    if (!version)
      throw new LambdaRuntimeError('ResourceNotFoundException', `Function not found: ${functionName}`);
    const requestId = randomUUID();
    const environment = this.acquire(version);
    const context = lambdaContext(version, requestId);
    const deadline = Date.now() + version.timeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Lambda stops the sandbox of an invocation that overran; its next one starts cold.
        void environment.terminate();
        reject(
          new LambdaRuntimeError(
            'Sandbox.Timedout',
            `Task timed out after ${version.timeoutSeconds.toFixed(2)} seconds`,
          ),
        );
      }, version.timeoutSeconds * 1000);
    });
    try {
      const result = await Promise.race([environment.invoke(requestId, event, context, deadline), timeout]);
      this.invocations.push({ functionName: name, codeSha256: version.codeSha256, requestId });
      return result;
    } catch (error) {
      this.invocations.push({
        functionName: name,
        codeSha256: version.codeSha256,
        requestId,
        error: (error as Error).name,
      });
      throw error;
    } finally {
      clearTimeout(timer);
      environment.busy = false;
      if (environment.retired) await environment.terminate();
    }
  }

  async stop(): Promise<void> {
    for (const name of [...this.environments.keys()]) await this.retire(name);
    for (const log of this.logs.values()) log.end();
  }

  /** An idle environment of this version, or a new one (a cold start). */
  private acquire(version: FunctionVersion): ExecutionEnvironment {
    const pool = (this.environments.get(version.functionName) ?? []).filter((e) => !e.dead);
    let environment = pool.find((e) => !e.busy);
    if (!environment) {
      const credentials = this.options.credentialsFor(version);
      environment = new ExecutionEnvironment(
        version,
        {
          ...this.options.baseEnvironment,
          ...version.environment,
          AWS_LAMBDA_FUNCTION_NAME: version.functionName,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(version.memorySize),
          AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
          AWS_EXECUTION_ENV: `AWS_Lambda_${version.runtime}`,
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        },
        this.logOf(version.functionName),
      );
      pool.push(environment);
    }
    this.environments.set(version.functionName, pool);
    environment.busy = true;
    return environment;
  }

  private logOf(functionName: string): WriteStream {
    let log = this.logs.get(functionName);
    if (!log) {
      mkdirSync(join(this.options.workDir, 'logs'), { recursive: true });
      log = createWriteStream(join(this.options.workDir, 'logs', `${functionName}.log`), { flags: 'a' });
      this.logs.set(functionName, log);
    }
    return log;
  }

  /** The environments of a function's old version: idle ones now, busy ones when done. */
  private async retire(functionName: string): Promise<void> {
    const pool = this.environments.get(functionName) ?? [];
    this.environments.delete(functionName);
    for (const environment of pool) environment.retired = true;
    await Promise.all(pool.filter((e) => !e.busy).map((environment) => environment.terminate()));
  }
}

/** A function name from a name or an ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
export function nameOf(functionNameOrArn: string): string {
  const match = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(functionNameOrArn);
  return match ? (match[1] as string) : functionNameOrArn;
}
