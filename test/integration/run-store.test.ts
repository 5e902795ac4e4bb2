import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { newRunId } from '../../lib/ids.ts';
import { StepStatus } from '../../lib/status.ts';
import { runPk, stepSk } from '../../lib/store/keys.ts';
import type { StepRecord } from '../../lib/store/types.ts';
import { useStack } from '../support/stack.ts';

const handle = useStack();

function waitingStep(runId: string, pending: number): StepRecord {
  const now = new Date().toISOString();
  return { runId, key: 'fan-in', status: StepStatus.WAITING, attempt: 1, pending, updatedAt: now };
}

describe('resolving a fan-in step’s dependencies (on the emulator)', () => {
  it('counts each upstream once however often its release is retried, down to zero', async () => {
    const runId = newRunId();
    await handle.deps.store.putSteps([waitingStep(runId, 3)]);
    const store = handle.deps.store;
    expect(await store.resolveDependency(runId, 'fan-in', 0)).toBe(2);
    expect(await store.resolveDependency(runId, 'fan-in', 0)).toBe(2);
    expect(await store.resolveDependency(runId, 'fan-in', 2)).toBe(1);
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(0);
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(0);
    expect((await store.getStep(runId, 'fan-in'))?.pending).toBe(0);
  });

  it('goes on with a number set for a step item written without the map (an older run)', async () => {
    const runId = newRunId();
    const { runsTable } = handle.deps.config;
    const legacy = { ...waitingStep(runId, 2), pk: runPk(runId), sk: stepSk('fan-in') };
    await handle.deps.aws.ddb.send(new PutCommand({ TableName: runsTable, Item: legacy }));
    const store = handle.deps.store;
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(1);
    expect(await store.resolveDependency(runId, 'fan-in', 1)).toBe(1);
    expect(await store.resolveDependency(runId, 'fan-in', 0)).toBe(0);
  });

  it('says so for a step that does not exist', async () => {
    await expect(handle.deps.store.resolveDependency(newRunId(), 'nope', 0)).rejects.toThrow(
      /step 'nope' of run '.*' does not exist/,
    );
  });
});
