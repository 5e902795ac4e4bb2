import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES, InvalidJobError, StepTimeoutError } from '../../lib/errors.ts';

const dir = join(import.meta.dirname, '../../statemachines');
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));

/** Placeholders become ARNs at deploy time (and in the local stack). */
function substituted(text: string): unknown {
  return JSON.parse(
    text.replace(
      /\$\{(\w+)FunctionArn\}/g,
      (_, fn: string) => `arn:aws:lambda:us-east-1:123456789012:function:lambdag-${fn}`,
    ),
  );
}

function walk(value: unknown, visit: (key: string, value: unknown) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      visit(key, inner);
      walk(inner, visit);
    }
  }
}

describe.each(files)('state machine %s', (file) => {
  const text = readFileSync(join(dir, file), 'utf8');
  const definition = substituted(text);

  it('is valid ASL', () => {
    const { isValid, errors: problems } = aslValidator(definition as Parameters<typeof aslValidator>[0]);
    expect(problems).toEqual([]);
    expect(isValid).toBe(true);
  });

  it('uses JSONPath only: no JSONata and no Assign (the local engine ignores them silently)', () => {
    const found: string[] = [];
    walk(definition, (key, value) => {
      if (key === 'Assign' || key === 'Arguments' || key === 'Output') found.push(key);
      if (key === 'QueryLanguage' && value !== 'JSONPath') found.push(`QueryLanguage=${String(value)}`);
      if (typeof value === 'string' && value.startsWith('{%')) found.push(value);
    });
    expect(found).toEqual([]);
  });

  it('names only real errors in ErrorEquals and Fail states', () => {
    const ours = new Set<string>(ERROR_NAMES);
    const known = (name: string) =>
      name.startsWith('States.') ||
      name.startsWith('Lambda.') ||
      // Errors of the Step Functions service integration (ContinueAsNew's startExecution).
      name.startsWith('StepFunctions.') ||
      name.startsWith('lambdag.') ||
      ours.has(name);
    const named: string[] = [];
    walk(definition, (key, value) => {
      if (key === 'ErrorEquals' && Array.isArray(value)) named.push(...(value as string[]));
    });
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !known(n))).toEqual([]);
  });
});

describe('error names', () => {
  it('are the literal names the errors carry', () => {
    expect(ERROR_NAMES).toContain(new InvalidJobError('j', 'm').name);
    expect(ERROR_NAMES).toContain(new StepTimeoutError('s', 1).name);
  });
});
