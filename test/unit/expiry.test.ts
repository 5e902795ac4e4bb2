import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStackError } from '../../lib/errors.ts';
import { expiryOf, TTL_ATTRIBUTE } from '../../lib/run/retention.ts';
import { parseTemplate } from '../../local/cloudformation/template.ts';
import { expiryRulesOf } from '../../local/expiry.ts';
import { packagedTemplate } from '../../local/packagedTemplate.ts';

const at = (iso: string) => Date.parse(iso) / 1000;

/** Local names for the logical ids, as provisioning would give them. */
function provisioned(ids: Record<string, string>): Map<string, { ref: string }> {
  return new Map(Object.entries(ids).map(([id, ref]) => [id, { ref }]));
}

describe('a retention of some days', () => {
  it('ends at the midnight UTC after the days have passed, as S3 lifecycle expiration rounds', () => {
    expect(expiryOf(new Date('2026-12-06T07:00:00Z'), 7)).toBe(at('2026-12-14T00:00:00Z'));
    expect(expiryOf(new Date('2026-12-06T23:59:59Z'), 1)).toBe(at('2026-12-08T00:00:00Z'));
    expect(expiryOf(new Date('2026-12-06T00:00:00Z'), 30)).toBe(at('2027-01-05T00:00:00Z'));
  });
});

describe('the expiry rules the local stack applies', () => {
  it("are the packaged template's: the runs and idempotency tables' TTL and the bucket's lifecycle", async () => {
    const { body } = await packagedTemplate({
      root: join(import.meta.dirname, '../..'),
      stage: 'local',
      region: 'us-east-1',
    });
    const rules = expiryRulesOf(
      parseTemplate(body).Resources,
      provisioned({ RunsTable: 'runs', IdempotencyTable: 'idem', ArtifactsBucket: 'bucket' }),
    );
    expect(rules).toEqual({
      ttl: [
        { table: 'runs', keys: ['pk', 'sk'], attribute: TTL_ATTRIBUTE },
        { table: 'idem', keys: ['id'], attribute: 'expiration' },
      ],
      lifecycle: [{ bucket: 'bucket', prefix: '', days: 7 }],
    });
  });

  it('skip disabled rules, keep a prefix, and refuse a filter they cannot apply', () => {
    const bucket = (rules: unknown[]) => ({
      Bucket: { Type: 'AWS::S3::Bucket', Properties: { LifecycleConfiguration: { Rules: rules } } },
    });
    const names = provisioned({ Bucket: 'b' });
    expect(
      expiryRulesOf(
        bucket([
          { Id: 'off', Status: 'Disabled', ExpirationInDays: 1 },
          { Id: 'tmp', Status: 'Enabled', ExpirationInDays: 2, Filter: { Prefix: 'tmp/' } },
        ]),
        names,
      ).lifecycle,
    ).toEqual([{ bucket: 'b', prefix: 'tmp/', days: 2 }]);
    expect(() =>
      expiryRulesOf(
        bucket([
          { Id: 'tagged', Status: 'Enabled', ExpirationInDays: 2, Filter: { Tag: { Key: 'k', Value: 'v' } } },
        ]),
        names,
      ),
    ).toThrow(LocalStackError);
  });
});
