// Test helpers: temporary copies of the example fleet and a way to run the real CLI. Tests never read
// the repository's own models/ and environments/: those are the user's registry (a team replaces the
// examples there), so every test starts from examples/fleet, the toolkit's own copy.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const NODE = process.execPath;
/** The toolkit's example fleet (examples/fleet/models, examples/fleet/environments). */
export const FLEET = join(ROOT, 'examples', 'fleet');

const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'mg-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Copies the example fleet's models/ and environments/ into `dir`. */
export function copyFleet(dir: string): void {
  cpSync(join(FLEET, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(FLEET, 'environments'), join(dir, 'environments'), { recursive: true });
}

/** A temporary copy of the example fleet (models/ and environments/). */
export function exampleRepo(): string {
  const d = tempDir('mg-repo-');
  copyFleet(d);
  return d;
}

export function edit(repo: string, path: string, change: (text: string) => string): void {
  const p = join(repo, path);
  const before = readFileSync(p, 'utf8');
  const after = change(before);
  if (after === before) throw new Error(`edit of ${path} changed nothing`);
  writeFileSync(p, after);
}

export function write(repo: string, path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(repo, path)), { recursive: true });
  writeFileSync(join(repo, path), content);
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

let emptyCwd: string | undefined;

/**
 * Runs the CLI. Without `cwd` it runs in an empty temporary folder, never the repository root: a
 * command that reads a registry must be given one (`--repo`, or a cwd in a copy of the fleet).
 */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  if (emptyCwd === undefined || !existsSync(emptyCwd)) emptyCwd = tempDir('mg-cwd-');
  const r = spawnSync(NODE, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
    cwd: options.cwd ?? emptyCwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
