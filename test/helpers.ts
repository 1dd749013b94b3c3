// Test helpers: temporary copies of the example registry and a way to run the real CLI.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const NODE = process.execPath;

const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'mg-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** A temporary copy of the example registry (models/ and environments/). */
export function exampleRepo(): string {
  const d = tempDir('mg-repo-');
  cpSync(join(ROOT, 'models'), join(d, 'models'), { recursive: true });
  cpSync(join(ROOT, 'environments'), join(d, 'environments'), { recursive: true });
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

export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(NODE, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
