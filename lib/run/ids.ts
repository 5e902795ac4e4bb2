import { createHash } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const nextUlid = monotonicFactory();

/** Run ids sort by creation time (ULID). */
export function newRunId(): string {
  return nextUlid();
}

export const RUN_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{5,79}$/;

/**
 * A run id derived from a client token: starting twice with one token yields one run.
 * Also a valid Step Functions execution name (<= 80 chars of [0-9A-Za-z_-]).
 */
export function runIdForClientToken(job: string, token: string): string {
  return `t-${createHash('sha256').update(`${job}\0${token}`).digest('hex').slice(0, 40)}`;
}
