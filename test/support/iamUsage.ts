import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { UsageEntry } from '../../local/iam/authority.ts';
import type { PolicyStatement } from '../../local/iam/policy.ts';

/** What one embedded stack wrote at its stop (local/stack.ts, LAMBDAG_IAM_USAGE_DIR). */
export interface StackUsageFile {
  readonly roles: Record<string, { source: string; statement: PolicyStatement }[]>;
  readonly allowed: (UsageEntry & { count: number })[];
  readonly denied: UsageEntry[];
}

/** One permission a role holds: an action of one Allow statement. */
export interface Grant {
  readonly role: string;
  readonly statement: string;
  readonly action: string;
}

export interface GrantUse extends Grant {
  readonly requests: number;
  /** Who used it (function names, `ecs-task`, ...). */
  readonly principals: readonly string[];
}

/**
 * Permissions granted that the suite cannot use, and why. Each is a grant the deployed
 * system needs although no request of the embedded stack makes it.
 */
export const UNUSABLE_GRANTS: readonly { role: RegExp; action: RegExp; why: string }[] = [
  {
    role: /.*/,
    action: /^logs:/,
    why: 'the Lambda runtime and the ECS agent write CloudWatch Logs, not our clients; the embedded stack has no CloudWatch Logs',
  },
  {
    role: /.*/,
    action: /^s3:AbortMultipartUpload$/,
    why: 'lib-storage aborts a multipart upload only when one of its parts fails, which the emulators never make happen',
  },
  {
    role: /.*/,
    action: /^s3:ListBucket$/,
    why: 'asked only when a function reads an artifact that is gone (expired), to answer 404 NoSuchKey rather than 403; test/integration/iam.test.ts shows both answers',
  },
  {
    role: /^StepTaskRole$/,
    action: /^dynamodb:DeleteItem$/,
    why: "Powertools deletes an attempt's INPROGRESS record when the attempt fails with an infrastructure error inside the task (the body's own errors are recorded, not thrown); the suite injects no AWS faults into task processes",
  },
  {
    role: /^StepTaskExecutionRole$/,
    action: /^ecr:/,
    why: 'the ECS agent pulls the image with the task execution role; local tasks are processes, not images',
  },
];

export interface UsageReport {
  readonly used: GrantUse[];
  /** Granted, not used, and not excused: a permission to remove (or a path the suite misses). */
  readonly unused: Grant[];
  readonly excused: (Grant & { why: string })[];
}

/** Merge the stacks' files and set each granted permission against the requests that used it. */
export function usageReport(files: readonly StackUsageFile[]): UsageReport {
  const grants = new Map<string, Grant>();
  const uses = new Map<string, { requests: number; principals: Set<string> }>();
  for (const file of files) {
    for (const [role, statements] of Object.entries(file.roles)) {
      for (const { source, statement } of statements) {
        if (statement.Effect !== 'Allow' || statement.Action === undefined) continue;
        for (const action of ([] as string[]).concat(statement.Action)) {
          const grant = { role, statement: source, action };
          grants.set(keyOf(grant), grant);
        }
      }
    }
    for (const entry of file.allowed) {
      if (!entry.statement) continue;
      const statement = file.roles[entry.role]?.find((s) => s.source === entry.statement)?.statement;
      // The use counts for the statement's action that matched (its own spelling).
      const actions = ([] as string[]).concat(statement?.Action ?? []);
      const action = actions.find((a) => a.toLowerCase() === entry.action.toLowerCase()) ?? entry.action;
      const key = keyOf({ role: entry.role, statement: entry.statement, action });
      const use = uses.get(key) ?? { requests: 0, principals: new Set<string>() };
      use.requests += entry.count;
      use.principals.add(entry.principal);
      uses.set(key, use);
    }
  }
  const used: GrantUse[] = [];
  const unused: Grant[] = [];
  const excused: (Grant & { why: string })[] = [];
  for (const [key, grant] of [...grants].sort(([a], [b]) => a.localeCompare(b))) {
    const use = uses.get(key);
    if (use) {
      used.push({ ...grant, requests: use.requests, principals: [...use.principals].sort() });
      continue;
    }
    const excuse = UNUSABLE_GRANTS.find((e) => e.role.test(grant.role) && e.action.test(grant.action));
    if (excuse) excused.push({ ...grant, why: excuse.why });
    else unused.push(grant);
  }
  return { used, unused, excused };
}

export function readUsageFiles(dir: string): StackUsageFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as StackUsageFile);
}

/** A table for people: role, statement, action, requests, used by. */
export function formatReport(report: UsageReport): string {
  const rows = [
    ...report.used.map((u) => [u.role, u.statement, u.action, String(u.requests), u.principals.join(' ')]),
    ...report.excused.map((e) => [e.role, e.statement, e.action, '0', `(not usable locally: ${e.why})`]),
    ...report.unused.map((u) => [u.role, u.statement, u.action, '0', 'UNUSED']),
  ];
  return ['| role | statement | action | requests | used by |', '|---|---|---|---|---|']
    .concat(rows.map((row) => `| ${row.join(' | ')} |`))
    .join('\n');
}

function keyOf(grant: Grant): string {
  return `${grant.role}\u0000${grant.statement}\u0000${grant.action}`;
}
