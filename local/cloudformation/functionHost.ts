import type { Context } from 'aws-lambda';

/** A function as its AWS::Lambda::Function properties declare it (the code aside). */
export interface FunctionDeclaration {
  readonly functionName: string;
  readonly functionArn: string;
  /** `handlers/startRun.handler`: the module (without extension) and its export. */
  readonly handler: string;
  readonly runtime: string;
  readonly role: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  readonly environment: Readonly<Record<string, string>>;
}

/** A function as its host runs it. */
export interface HostedFunction {
  readonly functionName: string;
  readonly functionArn: string;
  readonly role: string;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
}

/**
 * Where deployed functions run, and where their code comes from: the local Lambda runs the
 * zip from the deployment bucket (`sls deploy`, local/lambda/); the embedded stack's own
 * start-up runs the handlers from source in this process (local/sourceFunctions.ts), which
 * never reads the zip. Invocations name the function, so a redeployed one runs its new code.
 */
export interface FunctionHost {
  deploy(declaration: FunctionDeclaration, zip: () => Promise<Buffer>): Promise<HostedFunction>;
  delete(functionName: string): Promise<void>;
  get(functionNameOrArn: string): HostedFunction | undefined;
  /** An invocation; `context` is the caller's (the event source's, the state machine's), where the host uses one. */
  invoke(functionName: string, event: unknown, context?: Context): Promise<unknown>;
}
