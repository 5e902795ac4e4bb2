import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IamAuthority, UsageEntry } from './authority.ts';
import type { Role } from './roles.ts';

/**
 * With LAMBDAG_IAM_USAGE_DIR set (the test suite sets it), the roles a stack enforced and what
 * each principal was allowed, and by which statement, go to a file there: the suite compares
 * what was granted with what was used (test/support/iamUsage.global.ts).
 */
export function writeIamUsage(roles: readonly Role[], authority: IamAuthority): void {
  const dir = process.env.LAMBDAG_IAM_USAGE_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const byRole = Object.fromEntries(
    roles.map((role) => [
      role.logicalId,
      role.statements.map(({ statement, source }) => ({ source, statement })),
    ]),
  );
  const usage: { allowed: UsageEntry[]; denied: UsageEntry[] } = authority.usage();
  writeFileSync(
    join(dir, `${process.pid}-${randomUUID()}.json`),
    JSON.stringify({ roles: byRole, ...usage }),
  );
}
