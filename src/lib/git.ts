// The one way the toolkit runs git: real git, no library. C locale so messages and porcelain are stable
// to parse, no terminal prompt (a missing credential fails instead of hanging CI), and errors carry git's
// own message so a person can act on them.
import { spawnSync } from 'node:child_process';
import { UserError } from './errors.ts';

const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };

export interface GitRun {
  status: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs git and returns its status and output whatever the status; only "git could not run" throws. */
export function runGit(repo: string, args: string[], input?: string | Buffer): GitRun {
  const r = spawnSync('git', args, { cwd: repo, input, maxBuffer: 1 << 30, env: { ...process.env, ...GIT_ENV } });
  if (r.error) throw new UserError(`git could not be run: ${r.error.message}`);
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr.toString() };
}

function checked(repo: string, args: string[], input?: string | Buffer): Buffer {
  const r = runGit(repo, args, input);
  if (r.status !== 0)
    throw new UserError(
      `git ${args.join(' ')} failed in ${repo}: ${(r.stderr || r.stdout.toString()).trim() || `exit ${r.status}`}`,
    );
  return r.stdout;
}

/** git's stdout as text; a non-zero exit is a UserError with git's message. */
export function git(repo: string, args: string[], input?: string): string {
  return checked(repo, args, input).toString('utf8');
}

/** git's stdout as bytes (blobs from `cat-file --batch`); a non-zero exit is a UserError. */
export function gitBytes(repo: string, args: string[], input?: string | Buffer): Buffer {
  return checked(repo, args, input);
}

/** Whether git exits 0 (a yes/no question such as `merge-base --is-ancestor`). */
export function gitSucceeds(repo: string, args: string[]): boolean {
  return runGit(repo, args).status === 0;
}

export function isGitRepo(repo: string): boolean {
  const r = runGit(repo, ['rev-parse', '--is-inside-work-tree']);
  return r.status === 0 && r.stdout.toString().trim() === 'true';
}
