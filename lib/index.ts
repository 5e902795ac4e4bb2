/** lambdag's public library API. */

export { type RequestCounts, RequestMetrics } from './aws/requestMetrics.ts';
export { ConcurrencyInspector, type ConcurrencyKeyView } from './client/concurrencyInspector.ts';
export {
  ArtifactExpiredError,
  ErrorCode,
  InvalidConcurrencyLimitError,
  InvalidInputError,
  InvalidJobError,
  JobNotFoundError,
  LambdagError,
  MapItemsFailedError,
  MapItemsInvalidError,
  NonRetryableError,
  NothingToRerunError,
  PayloadTooLargeError,
  RunCanceledError,
  RunNotFinishedError,
  RunNotFoundError,
  StepTimeoutError,
  UnknownStepError,
  WorkerLostError,
} from './errors.ts';
export { EventType } from './eventTypes.ts';
export type {
  ConcurrencyOption,
  JobBuilder,
  JobDefinition,
  MapOptions,
  MapRef,
  PriorityOption,
  StepContext,
  StepOptions,
  StepRef,
} from './job/defineJob.ts';
export { defineJob, Priority, Runtime } from './job/defineJob.ts';
export type { FairnessKeyOption } from './job/fairness.ts';
export { MAX_PRIORITY, MIN_PRIORITY } from './job/priority.ts';
export { JobRegistry } from './job/registry.ts';
export { RunStatus, StepStatus } from './status.ts';
