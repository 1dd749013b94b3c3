// A real git repository in a temp folder, seeded with the example fleet (examples/fleet) and committed as the base.
// Tests edit files (and optionally commit) to build the head, then run the check against the base.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CheckResult, checkAgainstBase } from '../../src/review/check.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The toolkit's example fleet; the root models/ and environments/ are the user's and never read here. */
export const FLEET = join(ROOT, 'examples', 'fleet');

export interface TestRepo {
  dir: string;
  /** The commit the check compares against (updated by `commitBase`). */
  base: string;
  read(path: string): string;
  write(path: string, text: string): void;
  /** Replace `from` with `to` in a file; fails when `from` is not there, so a test cannot silently edit nothing. */
  edit(path: string, from: string | RegExp, to: string): void;
  copy(from: string, to: string): void;
  remove(path: string): void;
  move(from: string, to: string): void;
  git(...args: string[]): string;
  /** Commit everything and make that commit the base. */
  commitBase(message?: string): string;
  check(): CheckResult;
  /** 1-based line of the first line of `path` containing `needle`. */
  lineOf(path: string, needle: string): number;
}

const repos: string[] = [];
export function cleanupRepos(): void {
  for (const d of repos.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The test's own registry for cases that need the small fixture rather than the example fleet. */
export const VALID_BASE = fileURLToPath(new URL('../fixtures/valid-base', import.meta.url));

/** A temp git repo seeded with `source`'s models/ and environments/, committed as the base. */
export function makeRepo(source: string = FLEET): TestRepo {
  const dir = mkdtempSync(join(tmpdir(), 'mg-check-'));
  repos.push(dir);
  cpSync(join(source, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(source, 'environments'), join(dir, 'environments'), { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    }).trim();
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'test@example.com');
  git('config', 'user.name', 'test');
  git('config', 'core.symlinks', 'true');
  const abs = (p: string) => join(dir, p);
  const repo: TestRepo = {
    dir,
    base: '',
    read: (p) => readFileSync(abs(p), 'utf8'),
    write: (p, text) => {
      mkdirSync(dirname(abs(p)), { recursive: true });
      writeFileSync(abs(p), text);
    },
    edit: (p, from, to) => {
      const text = readFileSync(abs(p), 'utf8');
      const next = text.replace(from, to);
      if (next === text) throw new Error(`edit of ${p}: ${String(from)} not found`);
      writeFileSync(abs(p), next);
    },
    copy: (from, to) => cpSync(abs(from), abs(to)),
    remove: (p) => rmSync(abs(p), { recursive: true }),
    move: (from, to) => renameSync(abs(from), abs(to)),
    git,
    commitBase: (message = 'base') => {
      git('add', '-A');
      git('commit', '-q', '--allow-empty', '-m', message);
      repo.base = git('rev-parse', 'HEAD');
      return repo.base;
    },
    check: () => checkAgainstBase(dir, repo.base),
    lineOf: (p, needle) => {
      const i = readFileSync(abs(p), 'utf8')
        .split('\n')
        .findIndex((l) => l.includes(needle));
      if (i < 0) throw new Error(`${needle} not in ${p}`);
      return i + 1;
    },
  };
  repo.commitBase('example registry');
  return repo;
}

/** A new version card copied from an existing one with its version replaced; `edits` then adjust it. */
export function newVersion(
  repo: TestRepo,
  model: string,
  from: string,
  to: string,
  edits: [string | RegExp, string][] = [],
): string {
  const path = `models/${model}/versions/${to}.yaml`;
  repo.copy(`models/${model}/versions/${from}.yaml`, path);
  repo.edit(path, `version: ${from}`, `version: ${to}`);
  for (const [a, b] of edits) repo.edit(path, a, b);
  return path;
}

/** test/fixtures/valid-base in a temp git repo, committed as the base, with a card-copying shortcut. */
export function fixtureRepo() {
  const repo = makeRepo(VALID_BASE);
  /** A copy of `from`'s card as `to` (version field replaced), with `edits` applied. */
  const copyVersion = (model: string, from: string, to: string, edits: [string, string][] = []) =>
    newVersion(repo, model, from, to, edits);
  return Object.assign(repo, { copyVersion });
}

export const errorsOf = (r: CheckResult) => r.diagnostics.filter((d) => d.severity === 'error');
export const rules = (r: CheckResult) =>
  errorsOf(r)
    .map((d) => d.rule)
    .sort();
