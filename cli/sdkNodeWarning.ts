/**
 * The AWS SDK v3 warns, once per process, when its first client is built on a Node.js major it is
 * about to drop: @aws-sdk/core's emitWarningIfUnsupportedVersion calls
 * `process.emitWarning('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) ...')` (3.98x:
 * below Node 22; releases before 2025 said `NodeDeprecationWarning: ...` for Node 16/18). On the
 * CLI that eight-line paragraph would open the stderr of every command run on Node 20, which the
 * CLI still supports (README, "Try it"). The SDK's own switch is an environment variable, and the
 * CLI does not write the environment; so this drops exactly those warnings and hands every other
 * one to Node unchanged.
 */

const SDK_NODE_VERSION_WARNING = /^Node\w*Warning: The AWS SDK for JavaScript \(v3\)/;

/** Whether a warning passed to process.emitWarning is the SDK's Node-version notice. */
export function isSdkNodeVersionWarning(warning: string | Error): boolean {
  const message = typeof warning === 'string' ? warning : warning.message;
  return SDK_NODE_VERSION_WARNING.test(message);
}

const muted = Symbol.for('lambdag.sdkNodeVersionWarningMuted');
type MarkedEmit = typeof process.emitWarning & { [muted]?: true };

/**
 * Wrap process.emitWarning so the SDK's Node-version notice is dropped. Call before the first AWS
 * client is built. Idempotent; returns a function that puts the previous emitWarning back.
 */
export function muteSdkNodeVersionWarning(): () => void {
  const previous = process.emitWarning as MarkedEmit;
  if (previous[muted]) return () => {};
  const filtered = function emitWarning(this: unknown, warning: string | Error, ...rest: unknown[]): void {
    if (isSdkNodeVersionWarning(warning)) return;
    (previous as (warning: string | Error, ...rest: unknown[]) => void).call(process, warning, ...rest);
  } as MarkedEmit;
  filtered[muted] = true;
  process.emitWarning = filtered;
  return () => {
    if (process.emitWarning === filtered) process.emitWarning = previous;
  };
}
