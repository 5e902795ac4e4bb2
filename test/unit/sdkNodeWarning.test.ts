import { emitWarningIfUnsupportedVersion, state } from '@aws-sdk/core/client';
import { afterEach, describe, expect, it } from 'vitest';
import { muteSdkNodeVersionWarning } from '../../cli/sdkNodeWarning.ts';

/** The warnings Node emits on `process` while fn runs (emitWarning emits on the next tick). */
async function warningsDuring(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const listen = (warning: Error) => seen.push(warning.message);
  process.on('warning', listen);
  try {
    fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  return seen;
}

let unmute = () => {};
afterEach(() => {
  unmute();
  // The SDK warns once per process; let the next case see it warn again.
  state.warningEmitted = false;
});

describe("the CLI's filter for the SDK's Node-version warning", () => {
  it('lets the SDK warn on Node 20 when not installed (what the filter is for)', async () => {
    const seen = await warningsDuring(() => emitWarningIfUnsupportedVersion('v20.20.2'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^NodeVersionSupportWarning: The AWS SDK for JavaScript \(v3\)/);
  });

  it("drops the SDK's own emitWarning call for Node 20 and passes every other warning on", async () => {
    unmute = muteSdkNodeVersionWarning();
    const seen = await warningsDuring(() => {
      emitWarningIfUnsupportedVersion('v20.20.2');
      process.emitWarning('something else', 'ExperimentalWarning');
    });
    expect(seen).toEqual(['something else']);
  });

  it('also drops the wording of SDK releases before 2025', async () => {
    unmute = muteSdkNodeVersionWarning();
    const seen = await warningsDuring(() =>
      process.emitWarning(
        'NodeDeprecationWarning: The AWS SDK for JavaScript (v3) will\nno longer support Node.js 16.x on January 6, 2025.',
      ),
    );
    expect(seen).toEqual([]);
  });
});
