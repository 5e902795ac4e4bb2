import { backoffDelay, Jitter } from '../backoff.ts';

export interface CircuitBreakerOptions {
  /** Transient failures in a row (with no success between) that open the circuit. */
  readonly failureThreshold: number;
  /** Cool-down after the first opening (ms); it doubles with each opening in a row, up to `maxCooldownMs`. */
  readonly baseCooldownMs: number;
  readonly maxCooldownMs: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = {
  failureThreshold: 5,
  baseCooldownMs: 1_000,
  maxCooldownMs: 30_000,
};

/**
 * A worker-wide breaker for the AWS services a step attempt needs. When they keep
 * failing transiently (throttling, 5xx), starting more attempts only burns their
 * receives and retries and adds load to a service that is shedding it; so after
 * `failureThreshold` failures in a row the circuit opens for a jittered, growing
 * cool-down, during which the worker hands records back instead of starting them.
 * After the cool-down one attempt goes through (half-open): its success closes the
 * circuit, its failure opens it again for longer.
 */
export class CircuitBreaker {
  private failures = 0;
  private openings = 0;
  private openUntil = 0;
  private probing = false;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT_BREAKER) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** Undefined when an attempt may start; else the ms until the circuit lets one through. */
  blockedForMs(): number | undefined {
    const left = this.openUntil - this.now();
    if (left > 0) return left;
    if (this.openings === 0) return undefined;
    // Half-open: one probe at a time.
    if (this.probing) return this.options.baseCooldownMs;
    this.probing = true;
    return undefined;
  }

  get isOpen(): boolean {
    return this.openUntil > this.now();
  }

  success(): void {
    this.failures = 0;
    this.openings = 0;
    this.openUntil = 0;
    this.probing = false;
  }

  transientFailure(): void {
    this.failures++;
    const probeFailed = this.probing;
    this.probing = false;
    if (!probeFailed && this.failures < this.options.failureThreshold) return;
    this.openings++;
    // Half jitter: at least half the cool-down, so a fleet of workers does not all probe at once.
    const cooldown = backoffDelay(
      this.openings,
      { base: this.options.baseCooldownMs, cap: this.options.maxCooldownMs, jitter: Jitter.HALF },
      this.random,
    );
    this.openUntil = this.now() + cooldown;
  }
}
