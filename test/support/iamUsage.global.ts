import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TestProject } from 'vitest/node';
import { formatReport, readUsageFiles, usageReport } from './iamUsage.ts';

const ROOT = join(import.meta.dirname, '../..');
const REPORT = join(ROOT, '.lambdag/iam-usage.md');

/**
 * Every embedded stack of the suite records which granted permission each request used
 * (LAMBDAG_IAM_USAGE_DIR). When the whole suite ran and passed, a permission no request
 * used, and that is not excused in UNUSABLE_GRANTS, fails the run: a role holds only
 * what the code uses (and the code uses only what the role holds: the stacks enforce it).
 */
export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'lambdag-iam-usage-'));
  // Set before the test workers start, so each inherits it.
  process.env.LAMBDAG_IAM_USAGE_DIR = dir;
  return () => {
    try {
      const files = readUsageFiles(dir);
      const ran = project.vitest.state.getFiles();
      const all = testFiles(join(ROOT, 'test'));
      const whole = all.every((file) => ran.some((f) => f.filepath === file));
      const passed = ran.every((f) => f.result?.state === 'pass');
      if (!whole || !passed || files.length === 0) return;
      const report = usageReport(files);
      mkdirSync(join(ROOT, '.lambdag'), { recursive: true });
      writeFileSync(REPORT, `${formatReport(report)}\n`);
      const where = relative(process.cwd(), REPORT);
      if (report.unused.length === 0) {
        console.log(
          `IAM: the suite's requests used ${report.used.length} granted permissions; ${report.excused.length} cannot be used locally (${where})`,
        );
        return;
      }
      console.error(
        `IAM: ${report.unused.length} granted permission(s) no request of the suite used: remove them, or test the path that uses them, or excuse them in test/support/iamUsage.ts (${where}):\n${report.unused
          .map((u) => `  ${u.role} ${u.statement}: ${u.action}`)
          .join('\n')}`,
      );
      process.exitCode = 1;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(entry.parentPath, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}
