// `model-gitops check` as a process: exit codes, the human report and --json.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, cleanupRepos, makeRepo, newVersion } from './repo.ts';

afterAll(cleanupRepos);

const cli = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/model-gitops.js'), 'check', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('model-gitops check', { timeout: 30_000 }, () => {
  it('exits 0 and lists the changes when the head is fine', () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', 'version: 2.0.0              # champion', 'version: 2.1.0');
    repo.edit('environments/production.yaml', '    canary: {version: 2.1.0, weight: 5%}\n', '');
    const r = cli(repo.dir, '--base', 'main');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`changes against main (${repo.base.slice(0, 12)}):`);
    expect(r.out).toContain('  > intent-classifier in production: 2.0.0 -> 2.1.0');
    expect(r.out).toMatch(/^ok {2}2 changes$/m);
  });

  it('exits 1 with file:line diagnostics, and --json carries changes, verdicts and rows', () => {
    const repo = makeRepo();
    const file = newVersion(repo, 'intent-classifier', '2.1.0', '2.1.1', [['byte-tokenizer', 'word-tokenizer']]);
    repo.git('add', '-A');
    repo.git('commit', '-qm', 'pr'); // the head may be committed too: the check reads the working tree
    const r = cli(repo.dir, '--base', repo.base);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      `${file}:3:10  version  intent-classifier 2.1.1 is a patch bump over 2.1.0, but its changes need a major bump (e.g. 3.0.0):`,
    );
    expect(r.out).toMatch(/interface\.tokenizer\s+tokenizer byte-tokenizer -> word-tokenizer\s+major/);
    const j = cli(repo.dir, '--base', repo.base, '--json');
    expect(j.code).toBe(1);
    const parsed = JSON.parse(j.out);
    expect(parsed).toMatchObject({ ok: false, errors: 1, base: { ref: repo.base, commit: repo.base } });
    expect(parsed.semver[0].rows[0]).toMatchObject({ field: 'interface.tokenizer', needs: 'major' });
    expect(parsed.diagnostics[0]).toMatchObject({ file, line: 3, column: 10, field: 'version', rule: 'semver-bump' });
  });

  it('exits 2 on a missing --base, an unknown ref, or a folder outside git', () => {
    const repo = makeRepo();
    expect(cli(repo.dir)).toMatchObject({ code: 2, err: expect.stringContaining('--base is required') });
    expect(cli(repo.dir, '--base', 'nope')).toMatchObject({
      code: 2,
      err: expect.stringContaining('base "nope" is not a commit'),
    });
    expect(cli('/', '--base', 'main', '--repo', '/proc')).toMatchObject({
      code: 2,
      err: expect.stringContaining('is not inside a git repository'),
    });
  });
});
