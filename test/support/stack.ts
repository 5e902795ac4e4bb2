import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll } from 'vitest';
import { LambdagClient } from '../../lib/client/lambdagClient.ts';
import type { Deps } from '../../lib/deps.ts';
import { StepStatus } from '../../lib/status.ts';
import type { RunStore } from '../../lib/store/runStore.ts';
import type { RunEvent, RunRecord, StepRecord } from '../../lib/store/types.ts';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.ts';
import { testRegistry } from '../fixtures/jobs.ts';

export interface StackHandle {
  stack: LocalStack;
  deps: Deps;
  client: LambdagClient;
}

/** The module the local ECS tasks load the test jobs from (they run in processes of their own). */
const TEST_REGISTRY_MODULE = join(import.meta.dirname, '../fixtures/registry.ts');

/**
 * The handlers' and the stack's log level in tests: silent, so a green run prints its results
 * and not the warnings the faults the tests inject are meant to cause. Set
 * LAMBDAG_TEST_LOG_LEVEL=WARN (or DEBUG) to see them while debugging.
 */
const TEST_LOG_LEVEL = (process.env.LAMBDAG_TEST_LOG_LEVEL ?? 'SILENT') as NonNullable<
  LocalStackOptions['logLevel']
>;

/** One embedded stack per test file: started before its tests, stopped after. */
export function useStack(options: Partial<LocalStackOptions> = {}): StackHandle {
  const handle = {} as StackHandle;
  beforeAll(async () => {
    handle.stack = await startLocalStack({
      registry: testRegistry,
      registryModule: TEST_REGISTRY_MODULE,
      logLevel: TEST_LOG_LEVEL,
      ...options,
    });
    handle.deps = handle.stack.operatorDeps(
      testRegistry,
      new Logger({ serviceName: 'test', logLevel: TEST_LOG_LEVEL }),
    );
    handle.client = LambdagClient.fromDeps(handle.deps, handle.stack.stateMachineArn);
  });
  afterAll(async () => {
    await handle.stack?.stop();
  });
  return handle;
}

/** The run store of one in-process function (each signs as its own role): tests inject faults into it. */
export function storeOf(handle: StackHandle, functionName: string): RunStore {
  const deps = handle.stack.functionDeps.get(functionName);
  if (!deps) throw new Error(`the stack has no function ${functionName}`);
  return deps.store;
}

/**
 * Starts a run and returns it ended, once its execution has ended too: the run item says
 * the end as FinalizeRun writes it, a moment before FinalizeRun writes the run's last event
 * and returns, and a test reading the events must not race that.
 */
export async function runToEnd(handle: StackHandle, job: string, input?: unknown): Promise<RunRecord> {
  const { runId, executionArn } = await handle.client.startRun({ job, input });
  const run = await handle.client.waitForRun(runId);
  if (executionArn) await handle.stack.waitForExecution(executionArn);
  return run;
}

export async function stepsOf(handle: StackHandle, runId: string): Promise<Map<string, StepRecord>> {
  const steps = new Map<string, StepRecord>();
  for await (const step of handle.deps.store.listSteps(runId)) steps.set(step.key, step);
  return steps;
}

export async function eventsOf(handle: StackHandle, runId: string): Promise<RunEvent[]> {
  return (await handle.client.listEvents(runId)).events;
}

export function statusCounts(steps: Map<string, StepRecord>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const step of steps.values()) counts[step.status] = (counts[step.status] ?? 0) + 1;
  return counts;
}

export { StepStatus };

/** Poll `check` until it returns a value (not undefined), or fail after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
