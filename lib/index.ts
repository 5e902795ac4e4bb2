/** lambdag's public library API. */

export {
  ArtifactExpiredError,
  ErrorCode,
  InvalidInputError,
  InvalidJobError,
  JobNotFoundError,
  LambdagError,
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
export type { JobBuilder, JobDefinition, StepContext, StepOptions, StepRef } from './job.ts';
export { defineJob, Priority, Runtime } from './job.ts';
export { JobRegistry } from './registry.ts';
export { type RequestCounts, RequestMetrics } from './requestMetrics.ts';
export { EventType, RunStatus, StepStatus } from './status.ts';
