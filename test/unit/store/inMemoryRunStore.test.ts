import { describe, expect, it } from 'vitest';
import { StepStatus } from '../../../lib/status.ts';
import { InMemoryRunStore } from '../../../lib/store/inMemoryRunStore.ts';
import { runStoreContract } from './runStoreContract.ts';

describe('the in-memory run store', () => {
  runStoreContract(() => new InMemoryRunStore());

  it('keeps items of other tables by their key, and deletes them by it', async () => {
    const store = new InMemoryRunStore();
    await store.putItems([
      { table: 'idempotency', item: { id: 'a', status: 'INPROGRESS' } },
      { table: 'idempotency', item: { id: 'a', status: 'COMPLETED' } },
      { table: 'idempotency', item: { id: 'b', status: 'COMPLETED' } },
    ]);
    expect(store.itemsOf('idempotency')).toEqual([
      { id: 'a', status: 'COMPLETED' },
      { id: 'b', status: 'COMPLETED' },
    ]);
    await store.deleteItems('idempotency', [{ id: 'a' }]);
    expect(store.itemsOf('idempotency')).toEqual([{ id: 'b', status: 'COMPLETED' }]);
  });

  it('hands out copies: changing a returned record changes nothing stored', async () => {
    const store = new InMemoryRunStore();
    const now = new Date().toISOString();
    await store.putSteps([
      { runId: 'r1', key: 'a', status: StepStatus.WAITING, attempt: 1, pending: 1, updatedAt: now },
    ]);
    const step = (await store.getStep('r1', 'a')) as { pending: number };
    step.pending = 99;
    expect((await store.getStep('r1', 'a'))?.pending).toBe(1);
  });
});
