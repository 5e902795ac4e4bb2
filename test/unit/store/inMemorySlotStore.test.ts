import { describe } from 'vitest';
import { InMemorySlotStore } from '../../../lib/store/inMemorySlotStore.ts';
import { slotStoreContract } from './slotStoreContract.ts';

describe('the in-memory slot store, by the contract every SlotStore keeps', () => {
  slotStoreContract(() => new InMemorySlotStore());
});
