// The GitHub Actions runner contract for tests: run an action's entry point as a runner does
// (INPUT_* variables, fresh GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, optionally an event file)
// and read back its exit status, log, outputs and job summary.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { NODE, ROOT, tempDir } from '../helpers.ts';

export interface ActionRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  log: string;
  /** Parsed GITHUB_OUTPUT. */
  outputs: Record<string, string>;
  summary: string;
}

export interface RunActionOptions {
  /** Working folder of the step; also GITHUB_WORKSPACE. */
  cwd: string;
  /** Action inputs by their action.yml names. */
  inputs?: Record<string, string>;
  /** More variables (GITHUB_REPOSITORY, GITHUB_API_URL, ...); PATH is always passed. */
  env?: Record<string, string | undefined>;
  /** A webhook payload: written to a file named by GITHUB_EVENT_PATH. */
  event?: unknown;
}

/** The variable the runner sets for an input: spaces become '_', upper-cased, hyphens kept (INPUT_GITHUB-TOKEN). */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

/**
 * Runs `node <script>` (relative to the repository root, or an absolute path) as the runner would.
 * Asynchronous, so a fake API server living in this process keeps answering while the action runs.
 */
export async function runAction(script: string, o: RunActionOptions): Promise<ActionRun> {
  const dir = tempDir('mg-runner-');
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_WORKSPACE: o.cwd,
    ...o.env,
  };
  if (o.event !== undefined) {
    env.GITHUB_EVENT_PATH = join(dir, 'event.json');
    writeFileSync(env.GITHUB_EVENT_PATH, JSON.stringify(o.event));
  }
  for (const [k, v] of Object.entries(o.inputs ?? {})) env[inputVariable(k)] = v;
  const child = spawn(NODE, [isAbsolute(script) ? script : join(ROOT, script)], { cwd: o.cwd, env });
  let stdout = '',
    stderr = '',
    log = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    log += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    log += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    status,
    stdout,
    stderr,
    log,
    outputs: parseOutputs(readFileSync(output, 'utf8')),
    summary: readFileSync(summary, 'utf8'),
  };
}
