import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What `lambdag local up` leaves on disk so later commands can reach its stack. */
export interface LocalStackState {
  readonly pid: number;
  /**
   * `stack` (or absent): the embedded stack of `local up`, reached with `env`. `account`: the
   * empty account of `local up --empty`, at `env.AWS_ENDPOINT_URL`; the stage deployed into
   * it is read from its CloudFormation outputs, as a deployed stage's is.
   */
  readonly kind?: 'stack' | 'account';
  readonly env: Record<string, string>;
  readonly stateMachineArn?: string;
  readonly startedAt: string;
}

export function stateDir(dir?: string): string {
  return resolve(dir ?? process.env.LAMBDAG_HOME ?? '.lambdag');
}

const stateFile = (dir: string) => join(dir, 'stack.json');
export const dataDir = (dir: string) => join(dir, 'data');

export function writeState(dir: string, state: LocalStackState): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(stateFile(dir), `${JSON.stringify(state, null, 2)}\n`);
}

export function clearState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

/** The running stack's state, or undefined if none is running (a stale file is removed). */
export function readLiveState(dir: string): LocalStackState | undefined {
  const file = stateFile(dir);
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as LocalStackState;
  if (isAlive(state.pid)) return state;
  clearState(dir);
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
