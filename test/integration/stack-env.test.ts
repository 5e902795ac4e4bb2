import { describe, expect, it } from 'vitest';
import { LocalStackError } from '../../lib/errors.ts';
import { startLocalStack } from '../../local/stack.ts';
import { testRegistry } from '../fixtures/jobs.ts';

describe('the embedded stack and this process', () => {
  it('leaves process.env as it found it, and gives each function an environment of its own', async () => {
    const before = { ...process.env };
    const stack = await startLocalStack({
      registry: testRegistry,
      logLevel: 'SILENT',
      functionEnvironment: { LAMBDAG_CANCEL_CHECK_SECONDS: '0.5' },
    });
    try {
      expect(process.env).toEqual(before);
      // Every function got the added setting; serverless.yml's names come with it.
      for (const deps of stack.functionDeps.values()) {
        expect(deps.config.cancelCheckSeconds).toBe(0.5);
        expect(deps.config.runsTable).toBe(stack.env.LAMBDAG_RUNS_TABLE);
      }
      // As UpdateFunctionConfiguration: one function's next deps see the change, others do not.
      stack.updateFunctionEnvironment('stepWorker', { LAMBDAG_CANCEL_CHECK_SECONDS: '2' });
      expect(stack.functionDeps.get('stepWorker')?.config.cancelCheckSeconds).toBe(2);
      expect(stack.functionDeps.get('pollRun')?.config.cancelCheckSeconds).toBe(0.5);
      expect(() => stack.updateFunctionEnvironment('nope', {})).toThrow(LocalStackError);
      expect(() => stack.updateFunctionEnvironment('nope', {})).toThrow(/no function nope/);
      // The operator's deps reach the stack with the admin key, not this process's environment.
      const operator = stack.operatorDeps(testRegistry, stack.deps.log);
      expect(await operator.store.getRun('missing')).toBeUndefined();
    } finally {
      await stack.stop();
    }
    expect(process.env).toEqual(before);
  });
});
