// Small, explicit wrappers over the git command line (real git, no library): errors carry git's own
// message so a person can act on them.
import { spawnSync } from 'node:child_process';
import { UserError } from './errors.ts';

export function git(repo: string, args: string[], input?: string): string {
  const r = spawnSync('git', args, { cwd: repo, encoding: 'utf8', input, maxBuffer: 1 << 28 });
  if (r.error) throw new UserError(`git could not be run: ${r.error.message}`);
  if (r.status !== 0) throw new UserError(`git ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

export function isGitRepo(repo: string): boolean {
  return spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: repo, encoding: 'utf8' }).stdout.trim() === 'true';
}
