// Shared by the push tests: a temporary registry (a copy of examples/fleet, in git) and the demo weights
// whose sha256 match the example cards.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { main } from '../../src/cli/main.ts';
import { writeDemoWeights } from '../../scripts/demo-weights.ts';
import { NODE, ROOT, exampleRepo, runCli, tempDir } from '../helpers.ts';
import type { CliResult } from '../helpers.ts';

export const COMMIT = 'c0ffee0123456789abcdef0123456789abcdef99';

export interface Fixture {
  repo: string;
  /** <weights>/<model>/<version>/ folders written by scripts/demo-weights.ts. */
  weights: string;
  dir: (model: string, version: string) => string;
  /** The real CLI in a child process (cwd: the repo). */
  cli: (args: string[], env?: Record<string, string>) => CliResult;
  /** The CLI's main() in this process with `--repo <repo>` appended: same code, no process start-up. */
  run: (args: string[], env?: Record<string, string>) => Promise<CliResult>;
}

export function fixture(options: { git?: boolean } = {}): Fixture {
  const repo = exampleRepo();
  if (options.git) {
    const g = (...a: string[]) => execFileSync('git', a, { cwd: repo, stdio: 'pipe' });
    g('init', '-q', '-b', 'main');
    g('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'add', '.');
    g('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'registry');
  }
  const weights = tempDir('mg-weights-');
  writeDemoWeights(weights);
  return {
    repo,
    weights,
    dir: (m, v) => join(weights, m, v),
    cli: (args, env = {}) => runCli(args, { cwd: repo, env: { MODEL_GITOPS_STORE: '', ...env } }),
    run: (args, env = {}) => runInProcess([...args, '--repo', repo], { MODEL_GITOPS_STORE: '', ...env }),
  };
}

/** Every file under a folder store (relative paths), ignoring its temp area; [] when it does not exist. */
export function folderStoreKeys(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.tmp') continue;
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  walk(root, '');
  return out.sort();
}

/** Flags that make a new card complete. */
export const CARD_FLAGS = [
  '--summary',
  'Retrained on July intents.',
  '--parent',
  '2.1.0',
  '--code-repo',
  'acme/slm-training',
  '--code-commit',
  COMMIT,
];

/** Like runCli, but asynchronous, so independent runs can go in parallel. */
export function runCliAsync(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', MODEL_GITOPS_STORE: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Run main() here, capturing what it prints. Tests in a file run one at a time, so swapping the
 * console and the process streams for the duration of one call is safe.
 */
export async function runInProcess(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const saved = {
    log: console.log,
    error: console.error,
    warn: console.warn,
    out: process.stdout.write,
    err: process.stderr.write,
  };
  const savedEnv: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ NO_COLOR: '1', ...env })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
  console.log = (...a: unknown[]) => {
    stdout += `${format(...a)}\n`;
  };
  console.error = console.warn = (...a: unknown[]) => {
    stderr += `${format(...a)}\n`;
  };
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const status = await main(args);
    return { status, stdout, stderr };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error, warn: saved.warn });
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
