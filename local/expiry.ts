import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { LocalStackError } from '../lib/errors.ts';
import type { Log } from '../lib/log.ts';
import { type ExpirationRule, sweepExpiredObjects } from './lifecycleSweeper.ts';
import { sweepExpiredItems, type TtlRule } from './ttlSweeper.ts';

export interface LocalExpiryOptions {
  /** Time between sweeps (default 60 s); 0 sweeps only when asked (`sweep()`). */
  readonly intervalMs?: number;
  /** The clock expiry is judged by (tests move it forward instead of waiting days). */
  readonly now?: () => Date;
}

/** What expires: tables with a TTL, buckets' expiration rules. */
export interface ExpiryRules {
  readonly ttl: readonly TtlRule[];
  readonly lifecycle: readonly ExpirationRule[];
}

export interface SweepReport {
  readonly items: number;
  readonly objects: number;
}

const DEFAULT_INTERVAL_MS = 60_000;

/**
 * What AWS expires on its own, applied to the embedded stack: the TTL of each table that
 * declares a TimeToLiveSpecification, and the ExpirationInDays lifecycle rules of each
 * bucket, read from the template. Sweeps on an interval and on demand.
 */
export class LocalExpiry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly clients: { readonly dynamodb: DynamoDBClient; readonly s3: S3Client },
    readonly rules: ExpiryRules,
    private readonly log: Log,
    private readonly options: LocalExpiryOptions = {},
  ) {}

  start(): void {
    const interval = this.options.intervalMs ?? DEFAULT_INTERVAL_MS;
    if (interval <= 0) return;
    this.timer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.log.error('local expiry: sweep failed', { error }));
    }, interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running.catch(() => undefined); // a failed sweep was logged where it ran
  }

  /** One sweep of both: expired items, then expired objects (one sweep at a time). */
  sweep(): Promise<SweepReport> {
    const next = this.running.catch(() => undefined).then(() => this.sweepOnce());
    this.running = next;
    return next;
  }

  /** Only the tables' TTL (a test shows the window where artifacts are gone and items are not). */
  async sweepItems(): Promise<number> {
    const now = this.now();
    let items = 0;
    for (const rule of this.rules.ttl) items += await sweepExpiredItems(this.clients.dynamodb, rule, now);
    return items;
  }

  /** Only the buckets' lifecycle expiration. */
  async sweepObjects(): Promise<number> {
    const now = this.now();
    let objects = 0;
    for (const rule of this.rules.lifecycle) objects += await sweepExpiredObjects(this.clients.s3, rule, now);
    return objects;
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report = { items: await this.sweepItems(), objects: await this.sweepObjects() };
    if (report.items || report.objects) this.log.info('local expiry: expired data deleted', { ...report });
    return report;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}

/** A template's resource, its intrinsics evaluated. */
export interface DeclaredResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
}

/** The TTL and lifecycle expiration rules the template declares, with the names they were created under. */
export function expiryRulesOf(
  resources: Readonly<Record<string, DeclaredResource>>,
  provisioned: ReadonlyMap<string, { readonly ref: string }>,
): ExpiryRules {
  const ttl: TtlRule[] = [];
  const lifecycle: ExpirationRule[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    const name = provisioned.get(id)?.ref;
    if (!name) continue;
    if (resource.Type === 'AWS::DynamoDB::Table') {
      const spec = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: unknown } | undefined;
      if (!spec || String(spec.Enabled) !== 'true') continue;
      const keys = ((props.KeySchema ?? []) as { AttributeName: string }[]).map((k) => k.AttributeName);
      ttl.push({ table: name, keys, attribute: String(spec.AttributeName) });
    }
    if (resource.Type === 'AWS::S3::Bucket') {
      const rules = ((props.LifecycleConfiguration as { Rules?: unknown[] } | undefined)?.Rules ??
        []) as Record<string, unknown>[];
      for (const rule of rules) lifecycle.push(...expirationOf(id, name, rule));
    }
  }
  return { ttl, lifecycle };
}

/** An enabled rule's expiration; a filter the local stack cannot apply is refused, not ignored. */
function expirationOf(id: string, bucket: string, rule: Record<string, unknown>): ExpirationRule[] {
  if (rule.Status !== 'Enabled' || rule.ExpirationInDays === undefined) return [];
  const filter = (rule.Filter ?? {}) as Record<string, unknown>;
  const unsupported = Object.keys(filter).filter((key) => key !== 'Prefix');
  if (unsupported.length || rule.TagFilters || rule.ObjectSizeGreaterThan || rule.ObjectSizeLessThan) {
    throw new LocalStackError(
      `${id}: lifecycle rule ${String(rule.Id)} filters on more than a prefix, which the embedded stack does not apply`,
    );
  }
  const days = Number(rule.ExpirationInDays);
  if (!Number.isInteger(days) || days < 1)
    throw new LocalStackError(
      `${id}: lifecycle rule ${String(rule.Id)} has ExpirationInDays '${String(rule.ExpirationInDays)}'`,
    );
  return [{ bucket, prefix: String(filter.Prefix ?? rule.Prefix ?? ''), days }];
}
