// `model-gitops upgrade`, through the real CLI on real git repositories: a team's repository made from
// an old template release, and a newer release with changed, added and removed toolkit files and a
// registry of its own that must never reach the team's.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isToolkitPath, planUpgrade } from '../src/authoring/upgrade.ts';
import { runCli, tempDir, write } from './helpers.ts';

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  }).trim();
}

function repoWith(files: Record<string, string>, prefix: string): string {
  const dir = tempDir(prefix);
  git(dir, 'init', '-q', '-b', 'main');
  for (const [p, text] of Object.entries(files)) write(dir, p, text);
  return dir;
}

function commitAll(dir: string, message: string): string {
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

const read = (dir: string, p: string) => readFileSync(join(dir, p), 'utf8');

const SCHEMA = '{"title": "Model"}\n';

/** The template as it was when the team made its repository (toolkit + example registry). */
const OLD_RELEASE: Record<string, string> = {
  'src/cli/main.ts': '// main v1\n',
  'src/lib/dropped.ts': '// dropped by the next release\n',
  'src/lib/same.ts': '// unchanged\n',
  'schemas/model.schema.json': SCHEMA,
  'docs/guide.md': '# guide v1\n',
  'bin/model-gitops.js': '#!/usr/bin/env node\n// v1\n',
  '.github/workflows/pull-request.yml': 'name: pr v1\n',
  'package.json': '{"name": "model-gitops", "version": "0.1.0"}\n',
  'README.md': '# template readme v1\n',
  'models/example/model.yaml': 'name: example\n',
  'environments/dev.yaml': 'models: {example: 1.0.0}\n',
};

/** The newer release: changed, added and removed toolkit files, and a different example registry. */
const NEW_RELEASE: Record<string, string> = {
  'src/cli/main.ts': '// main v2\n',
  'src/lib/added.ts': '// new in v2\n',
  'src/lib/same.ts': '// unchanged\n',
  'schemas/model.schema.json': SCHEMA,
  'docs/guide.md': '# guide v2\n',
  'bin/model-gitops.js': '#!/usr/bin/env node\n// v2\n',
  '.github/workflows/pull-request.yml': 'name: pr v2\n',
  '.github/workflows/nightly.yml': 'name: nightly\n',
  'package.json': '{"name": "model-gitops", "version": "0.2.0"}\n',
  'README.md': '# template readme v2\n',
  CODEOWNERS: '* @template/owners\n',
  'models/other/model.yaml': 'name: other\n',
  'environments/dev.yaml': 'models: {other: 2.0.0}\n',
};

/**
 * A team repository made from the old release ("Use this template": one snapshot commit), then the
 * team's own work: its registry, README, CODEOWNERS, an edit to a toolkit doc, a golden set of its own.
 */
function teamRepo(): string {
  const dir = repoWith(OLD_RELEASE, 'mg-team-');
  chmodSync(join(dir, 'bin/model-gitops.js'), 0o755);
  commitAll(dir, 'Initial commit');
  rmSync(join(dir, 'models/example'), { recursive: true });
  write(dir, 'models/ours/model.yaml', 'name: ours\n');
  write(dir, 'environments/dev.yaml', 'models: {ours: 0.1.0}\n');
  write(dir, 'README.md', '# our registry\n');
  write(dir, 'CODEOWNERS', '* @acme/ml\n');
  write(dir, 'docs/guide.md', '# guide v1, with our notes\n');
  write(dir, 'benchmarks/golden/ours.jsonl', '{"text": "hi"}\n');
  commitAll(dir, 'our registry');
  return dir;
}

/** The newer template as a git repository: tag v2 is the release; main has moved on since. */
function releaseRepo(): { dir: string; v2: string } {
  const dir = repoWith(NEW_RELEASE, 'mg-release-');
  chmodSync(join(dir, 'bin/model-gitops.js'), 0o755);
  const v2 = commitAll(dir, 'release 0.2.0');
  git(dir, 'tag', 'v2');
  write(dir, 'src/cli/main.ts', '// main v3 (unreleased)\n');
  commitAll(dir, 'work after 0.2.0');
  return { dir, v2 };
}

/** Every file outside .git with its bytes, to show that a run wrote nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === '.git') continue;
      if (e.isDirectory()) walk(p);
      else out[p] = `${statSync(join(dir, p)).mode}:${read(dir, p)}`;
    }
  };
  walk('');
  return out;
}

interface UpgradeJson {
  dryRun: boolean;
  release: { from: string; ref?: string; commit?: string };
  baseline: { kind: string };
  added: string[];
  updated: string[];
  review: string[];
  deleted: string[];
  kept: { path: string; why: string }[];
  unchanged: number;
  record: string | null;
  next: string[];
}

function upgrade(args: string[]) {
  const r = runCli(['upgrade', ...args]);
  return { ...r, json: r.status === 0 && args.includes('--json') ? (JSON.parse(r.stdout) as UpgradeJson) : undefined };
}

describe('model-gitops upgrade', () => {
  it('--dry-run lists what would change and writes nothing', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    const before = snapshot(team);
    const r = upgrade(['--repo', team, '--from', release, '--dry-run', '--json']);
    expect(r.stderr).toBe('');
    expect(r.json).toMatchObject({
      dryRun: true,
      baseline: { kind: 'first-commit' },
      added: ['.github/workflows/nightly.yml', 'src/lib/added.ts'],
      updated: [
        '.github/workflows/pull-request.yml',
        'bin/model-gitops.js',
        'docs/guide.md',
        'package.json',
        'src/cli/main.ts',
      ],
      review: ['docs/guide.md'],
      deleted: ['src/lib/dropped.ts'],
      kept: [{ path: 'benchmarks/golden/ours.jsonl', why: 'yours: in no release' }],
      unchanged: 2,
      record: '.model-gitops-toolkit.json',
    });
    expect(snapshot(team)).toEqual(before);
    expect(git(team, 'status', '--porcelain')).toBe('');

    const human = runCli(['upgrade', '--repo', team, '--from', release, '--dry-run']);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/would add\s+src\/lib\/added\.ts/);
    expect(human.stdout).toMatch(/would delete\s+src\/lib\/dropped\.ts/);
    expect(human.stdout).toMatch(/would update\s+docs\/guide\.md\s+review: you changed it and so did the release/);
    expect(human.stdout).toContain('(dry run: nothing written)');
    expect(human.stdout).not.toContain('npm ci');
    expect(snapshot(team)).toEqual(before);
  });

  it('applies the release to the toolkit paths and leaves the registry, README and CODEOWNERS alone', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    const registryBefore = {
      readme: read(team, 'README.md'),
      codeowners: read(team, 'CODEOWNERS'),
      env: read(team, 'environments/dev.yaml'),
      model: read(team, 'models/ours/model.yaml'),
    };
    const r = runCli(['upgrade', '--repo', team, '--from', release]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/next:\n {2}npm ci/);
    expect(r.stdout).toContain('npm test');
    expect(r.stdout).toContain('git diff');

    // A checkout as the source: its files as they are (main, past the tag).
    expect(read(team, 'src/cli/main.ts')).toBe('// main v3 (unreleased)\n');
    expect(read(team, 'src/lib/added.ts')).toBe('// new in v2\n');
    expect(read(team, 'docs/guide.md')).toBe('# guide v2\n');
    expect(read(team, '.github/workflows/nightly.yml')).toBe('name: nightly\n');
    expect(read(team, 'package.json')).toContain('0.2.0');
    expect(existsSync(join(team, 'src/lib/dropped.ts'))).toBe(false);
    expect(statSync(join(team, 'bin/model-gitops.js')).mode & 0o111).not.toBe(0);
    // The team's own golden set stays; the registry and the team's files are untouched.
    expect(read(team, 'benchmarks/golden/ours.jsonl')).toBe('{"text": "hi"}\n');
    expect(read(team, 'README.md')).toBe(registryBefore.readme);
    expect(read(team, 'CODEOWNERS')).toBe(registryBefore.codeowners);
    expect(read(team, 'environments/dev.yaml')).toBe(registryBefore.env);
    expect(read(team, 'models/ours/model.yaml')).toBe(registryBefore.model);
    expect(existsSync(join(team, 'models/other'))).toBe(false);

    // git sees exactly the toolkit change and the record.
    git(team, 'add', '-A');
    const changed = git(team, 'diff', '--cached', '--name-only').split('\n').sort();
    expect(changed).toEqual([
      '.github/workflows/nightly.yml',
      '.github/workflows/pull-request.yml',
      '.model-gitops-toolkit.json',
      'bin/model-gitops.js',
      'docs/guide.md',
      'package.json',
      'src/cli/main.ts',
      'src/lib/added.ts',
      'src/lib/dropped.ts',
    ]);
    const record = JSON.parse(read(team, '.model-gitops-toolkit.json')) as {
      release: { commit: string };
      files: Record<string, string>;
    };
    expect(record.release.commit).toBe(git(release, 'rev-parse', 'HEAD'));
    expect(Object.keys(record.files)).toContain('src/lib/added.ts');
    expect(Object.keys(record.files).every(isToolkitPath)).toBe(true);

    // Committed, the same release again changes nothing.
    commitAll(team, 'toolkit: upgrade');
    const again = upgrade(['--repo', team, '--from', release, '--json']);
    expect(again.json).toMatchObject({
      added: [],
      updated: [],
      deleted: [],
      record: null,
      baseline: { kind: 'record' },
    });
    expect(git(team, 'status', '--porcelain')).toBe('');
  });

  it('the next upgrade deletes what a later release dropped, going by the record', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    expect(runCli(['upgrade', '--repo', team, '--from', release]).status).toBe(0);
    commitAll(team, 'toolkit: upgrade to v2');
    // Release 3 drops src/lib/added.ts, which the first commit never had: only the record knows it is the toolkit's.
    rmSync(join(release, 'src/lib/added.ts'));
    commitAll(release, 'release 0.3.0');
    const r = upgrade(['--repo', team, '--from', release, '--json']);
    expect(r.json).toMatchObject({ baseline: { kind: 'record' }, deleted: ['src/lib/added.ts'], added: [] });
    expect(existsSync(join(team, 'src/lib/added.ts'))).toBe(false);
    expect(existsSync(join(team, 'benchmarks/golden/ours.jsonl'))).toBe(true);
  });

  it('refuses while toolkit paths have uncommitted changes, naming them; registry edits do not matter', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    write(team, 'src/cli/main.ts', '// a local edit\n');
    write(team, 'scripts/mine.ts', '// untracked\n');
    write(team, 'models/ours/model.yaml', 'name: ours # edited\n');
    const before = snapshot(team);
    const r = runCli(['upgrade', '--repo', team, '--from', release]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('uncommitted changes in toolkit paths');
    expect(r.stderr).toContain('  src/cli/main.ts');
    expect(r.stderr).toContain('  scripts/mine.ts');
    expect(r.stderr).not.toContain('models/ours');
    expect(snapshot(team)).toEqual(before);

    // With only the registry edit left, it runs.
    git(team, 'checkout', '--', 'src/cli/main.ts');
    rmSync(join(team, 'scripts'), { recursive: true });
    expect(runCli(['upgrade', '--repo', team, '--from', release]).status).toBe(0);
    expect(read(team, 'models/ours/model.yaml')).toBe('name: ours # edited\n');
  });

  it('clones a git URL (a bare repository, by file path and file:// URL) at --ref', () => {
    const { dir: release, v2 } = releaseRepo();
    const bare = join(tempDir('mg-bare-'), 'template.git');
    git(release, 'clone', '-q', '--bare', release, bare);
    for (const from of [bare, pathToFileURL(bare).href]) {
      const team = teamRepo();
      const r = upgrade(['--repo', team, '--from', from, '--ref', 'v2', '--json']);
      expect(r.stderr).toBe('');
      expect(r.json?.release).toEqual({ from, ref: 'v2', commit: v2 });
      expect(read(team, 'src/cli/main.ts')).toBe('// main v2\n'); // the tag, not main
      expect(existsSync(join(team, 'src/lib/dropped.ts'))).toBe(false);
      expect(read(team, 'README.md')).toBe('# our registry\n');
    }
  });

  it('clones a regular repository at --ref, and without --ref takes its default branch', () => {
    const { dir: release } = releaseRepo();
    const team = teamRepo();
    expect(upgrade(['--repo', team, '--from', release, '--ref', 'v2', '--dry-run', '--json']).json?.release.ref).toBe(
      'v2',
    );
    const bare = join(tempDir('mg-bare-'), 'template.git');
    git(release, 'clone', '-q', '--bare', release, bare);
    expect(runCli(['upgrade', '--repo', team, '--from', bare]).status).toBe(0);
    expect(read(team, 'src/cli/main.ts')).toBe('// main v3 (unreleased)\n');
  });

  it('a file the team deleted stays deleted unless the release changed it', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    rmSync(join(team, 'src/lib/same.ts')); // unchanged in the release
    rmSync(join(team, '.github/workflows/pull-request.yml')); // changed in the release
    commitAll(team, 'we do not want these');
    const r = upgrade(['--repo', team, '--from', release, '--json']);
    expect(r.json?.kept).toContainEqual({
      path: 'src/lib/same.ts',
      why: 'you deleted it, and the release did not change it',
    });
    expect(r.json?.added).toContain('.github/workflows/pull-request.yml');
    expect(r.json?.review).toContain('.github/workflows/pull-request.yml');
    expect(existsSync(join(team, 'src/lib/same.ts'))).toBe(false);
    expect(read(team, '.github/workflows/pull-request.yml')).toBe('name: pr v2\n');
  });

  it('takes symlinks as links, never writing through them', () => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    write(release, 'test/real.txt', 'x\n');
    symlinkSync('../../outside/secret', join(release, 'test/fixtures-link'));
    commitAll(release, 'a symlink fixture');
    // In the team repository the same path is a regular file: the link replaces it.
    write(team, 'test/fixtures-link', 'a file\n');
    commitAll(team, 'a file where the release has a link');
    expect(runCli(['upgrade', '--repo', team, '--from', release]).status).toBe(0);
    expect(lstatSync(join(team, 'test/fixtures-link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(team, 'test/fixtures-link'))).toBe('../../outside/secret');
    commitAll(team, 'upgrade');
    expect(upgrade(['--repo', team, '--from', release, '--json']).json).toMatchObject({ updated: [], added: [] });
  });

  it('takes a plain folder (an unpacked release), leaving out node_modules and caches', () => {
    const { dir: release } = releaseRepo();
    const folder = tempDir('mg-unpacked-');
    for (const p of Object.keys(NEW_RELEASE)) cpSync(join(release, p), join(folder, p), { recursive: true });
    write(folder, 'src/node_modules/x/index.js', 'junk\n');
    write(folder, 'benchmarks/torch/__pycache__/a.pyc', 'junk\n');
    const team = teamRepo();
    const r = upgrade(['--repo', team, '--from', folder, '--json']);
    expect(r.json?.added).toEqual(['.github/workflows/nightly.yml', 'src/lib/added.ts']);
    expect(existsSync(join(team, 'src/node_modules'))).toBe(false);
    expect(existsSync(join(team, 'benchmarks/torch/__pycache__'))).toBe(false);
  });

  it.each([
    [
      'a ref that is not in the repository',
      (release: string) => ['--from', release, '--ref', 'v9'],
      /git clone of .* at v9 failed/,
    ],
    [
      'a source that is not a model-gitops release',
      () => ['--from', tempDir('mg-empty-')],
      /does not look like a model-gitops release/,
    ],
    ['a missing --from', () => [], /--from is required/],
    ['--ref on a plain folder', () => ['--from', tempDir('mg-empty-'), '--ref', 'v2'], /--ref needs a git repository/],
  ])('refuses %s and writes nothing', (_what, args, message) => {
    const team = teamRepo();
    const { dir: release } = releaseRepo();
    const before = snapshot(team);
    const r = runCli(['upgrade', '--repo', team, ...args(release)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(snapshot(team)).toEqual(before);
  });

  it('refuses a folder that is not a git repository, and a sub-folder of one', () => {
    const { dir: release } = releaseRepo();
    const plain = tempDir('mg-plain-');
    const r = runCli(['upgrade', '--repo', plain, '--from', release]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not a git repository');
    const team = teamRepo();
    const sub = runCli(['upgrade', '--repo', join(team, 'src'), '--from', release]);
    expect(sub.status).toBe(2);
    expect(sub.stderr).toContain('give its top folder');
  });
});

describe('the upgrade plan', () => {
  const f = (text: string, executable = false) => ({
    bytes: Buffer.from(text),
    executable,
    sha256: createHash('sha256').update(text).digest('hex'),
  });

  it('keeps a file the release dropped when the team changed it, and marks replaced edits', () => {
    const base = new Map([
      ['src/a.ts', f('a1').sha256],
      ['src/b.ts', f('b1').sha256],
    ]);
    const local = new Map([
      ['src/a.ts', f('a-ours')],
      ['src/b.ts', f('b-ours')],
    ]);
    const release = new Map([['src/b.ts', f('b2')]]);
    expect(planUpgrade(local, release, base).changes).toEqual([
      { path: 'src/a.ts', action: 'keep', why: 'the release dropped it, but you changed it: delete it if unused' },
      { path: 'src/b.ts', action: 'update', review: 'you changed it and so did the release; yours is replaced' },
    ]);
  });

  it('an executable bit alone is a change', () => {
    const local = new Map([['bin/x.js', f('x')]]);
    const release = new Map([['bin/x.js', f('x', true)]]);
    expect(planUpgrade(local, release, undefined)).toEqual({
      changes: [{ path: 'bin/x.js', action: 'update' }],
      unchanged: 0,
    });
  });

  it('knows which paths are the toolkit', () => {
    for (const p of [
      'src/cli/main.ts',
      '.github/workflows/x.yml',
      'package.json',
      'examples/fleet/models/a/model.yaml',
    ])
      expect(isToolkitPath(p)).toBe(true);
    for (const p of [
      'models/a/model.yaml',
      'environments/dev.yaml',
      'README.md',
      'CODEOWNERS',
      '.github/CODEOWNERS',
      'src',
      'srcx/a.ts',
    ])
      expect(isToolkitPath(p)).toBe(false);
  });
});
