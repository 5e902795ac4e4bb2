import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStackError } from '../lib/errors.ts';

/**
 * The CloudFormation template `sls package --stage <stage>` writes, which the embedded
 * stack provisions itself from (local/templateStack.ts), as a deploy would. Packaging takes
 * seconds (it bundles the functions too), so the template is cached by a hash of what it is
 * made from: serverless.yml (the plugins' settings are in it), statemachines/ (the
 * definition and the schedules' generator) and package-lock.json (the plugins' versions).
 * The functions' code is not an input: the embedded stack runs them from source.
 */
export interface PackagedTemplateOptions {
  /** The project root: serverless.yml, statemachines/, package-lock.json, node_modules/. */
  readonly root: string;
  /** A variant of root/serverless.yml to package instead (tests). */
  readonly serverlessFile?: string;
  readonly stage: string;
  readonly region: string;
  /** Where templates are cached; default root/node_modules/.cache/lambdag/templates. */
  readonly cacheDir?: string;
  /** Called when the cache misses and packaging begins (it takes seconds: say so). */
  readonly onPackaging?: () => void;
}

export interface PackagedTemplate {
  /** The template's JSON text. */
  readonly body: string;
  /** Where it is cached. */
  readonly file: string;
  /** True when this call packaged it (a cold start); false when the cache had it. */
  readonly packaged: boolean;
}

/** How long one `sls package` may take before it is given up. */
const PACKAGE_TIMEOUT_MS = 180_000;

/** The template for these inputs: from the cache, else packaged now and cached. */
export async function packagedTemplate(options: PackagedTemplateOptions): Promise<PackagedTemplate> {
  const dir = options.cacheDir ?? join(options.root, 'node_modules/.cache/lambdag/templates');
  const file = join(dir, `${templateKey(options)}.json`);
  if (existsSync(file)) return { body: readFileSync(file, 'utf8'), file, packaged: false };
  options.onPackaging?.();
  const body = await packageTemplate(options);
  mkdirSync(dir, { recursive: true });
  // Written whole, then renamed: a concurrent reader sees no file or all of it.
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, body);
  renameSync(partial, file);
  return { body, file, packaged: true };
}

/** The hash of the template's inputs (the cache key). */
export function templateKey(options: PackagedTemplateOptions): string {
  const hash = createHash('sha256');
  const add = (name: string, content: string | Buffer) =>
    hash.update(`${name}\0`).update(content).update('\0');
  add('stage', options.stage);
  add('region', options.region);
  add('serverless.yml', readFileSync(options.serverlessFile ?? join(options.root, 'serverless.yml')));
  add('package-lock.json', readFileSync(join(options.root, 'package-lock.json')));
  const machines = join(options.root, 'statemachines');
  for (const name of readdirSync(machines).sort())
    add(`statemachines/${name}`, readFileSync(join(machines, name)));
  return hash.digest('hex').slice(0, 32);
}

/**
 * Run `sls package` in a scratch copy of the project (its top-level entries linked, the
 * serverless.yml given), so its build directories never touch the project and two packagings
 * cannot collide; the template is read from its --package directory.
 */
async function packageTemplate(options: PackagedTemplateOptions): Promise<string> {
  const scratch = mkdtempSync(join(tmpdir(), 'lambdag-package-'));
  try {
    const project = join(scratch, 'project');
    mkdirSync(project);
    for (const entry of readdirSync(options.root)) {
      if (entry === 'serverless.yml' || entry.startsWith('.')) continue;
      symlinkSync(join(options.root, entry), join(project, entry));
    }
    writeFileSync(
      join(project, 'serverless.yml'),
      readFileSync(options.serverlessFile ?? join(options.root, 'serverless.yml')),
    );
    const out = join(scratch, 'package');
    const sls = join(options.root, 'node_modules/serverless/bin/serverless.js');
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [sls, 'package', '--stage', options.stage, '--region', options.region, '--package', out],
        {
          cwd: project,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME ?? scratch,
            SLS_TELEMETRY_DISABLED: '1',
            SLS_TRACKING_DISABLED: '1',
            SLS_NOTIFICATIONS_MODE: 'off',
            NO_COLOR: '1',
            // Packaging calls no AWS API; the framework still wants credentials to exist.
            AWS_ACCESS_KEY_ID: 'test',
            AWS_SECRET_ACCESS_KEY: 'test',
            AWS_REGION: options.region,
          },
          timeout: PACKAGE_TIMEOUT_MS,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          if (!error) return resolve();
          reject(
            new LocalStackError(
              `sls package --stage ${options.stage} failed (${error.message.split('\n')[0]}):\n${stdout}\n${stderr}`,
            ),
          );
        },
      );
    });
    return readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
