// Renaming a model (its folder moved), and reading the base with git: symlinks, size caps, bad refs.
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAgainstBase } from '../../src/review/check.ts';
import { DiagnosticSink } from '../../src/registry/diagnostics.ts';
import { GitSource } from '../../src/registry/git-source.ts';
import { loadRegistry } from '../../src/registry/load.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { cleanupRepos, errorsOf, makeRepo, rules, type TestRepo } from './repo.ts';

afterAll(cleanupRepos);

/** Moves models/pii-scrubber to models/pii-masker and renames it inside its cards. */
function renamePii(repo: TestRepo, opts: { environments: boolean }): void {
  repo.move('models/pii-scrubber', 'models/pii-masker');
  repo.edit('models/pii-masker/model.yaml', 'name: pii-scrubber', 'name: pii-masker');
  for (const v of ['1.4.1', '1.4.2'])
    repo.edit(`models/pii-masker/versions/${v}.yaml`, 'name: pii-scrubber', 'name: pii-masker');
  repo.edit('models/pii-masker/versions/1.4.2.yaml', 'parent: pii-scrubber@1.4.1', 'parent: pii-masker@1.4.1');
  if (opts.environments)
    for (const env of ['dev', 'staging', 'production'])
      repo.edit(`environments/${env}.yaml`, 'pii-scrubber:', 'pii-masker:');
}

describe('renaming a model', { timeout: 30_000 }, () => {
  it('is a rename, not deletions plus new versions, when every reference follows', () => {
    const repo = makeRepo();
    renamePii(repo, { environments: true });
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver).toEqual([]); // no version is new
    expect(r.changes.map((c) => c.kind)).toEqual(['model-renamed']);
    expect(r.changes[0]).toMatchObject({
      from: 'pii-scrubber',
      to: 'pii-masker',
      file: 'models/pii-masker/model.yaml',
    });
  });

  it('refuses the rename while an environment, a parent or a dependency still uses the old name', () => {
    const repo = makeRepo();
    renamePii(repo, { environments: false });
    repo.edit('models/pii-masker/versions/1.4.2.yaml', 'parent: pii-masker@1.4.1', 'parent: pii-scrubber@1.4.1');
    const r = repo.check();
    const prod = 'environments/production.yaml';
    const v142 = 'models/pii-masker/versions/1.4.2.yaml';
    expect(errorsOf(r).map((d) => [d.rule, d.file, d.field, d.line])).toEqual([
      [
        'renamed-model-referenced',
        'environments/dev.yaml',
        'models.pii-scrubber',
        repo.lineOf('environments/dev.yaml', 'pii-scrubber'),
      ],
      ['renamed-model-referenced', prod, 'models.pii-scrubber', repo.lineOf(prod, 'pii-scrubber')],
      [
        'renamed-model-referenced',
        'environments/staging.yaml',
        'models.pii-scrubber',
        repo.lineOf('environments/staging.yaml', 'pii-scrubber'),
      ],
      ['renamed-model-referenced', v142, 'lineage.parent', repo.lineOf(v142, 'parent:')],
    ]);
    expect(errorsOf(r)[1]!.message).toBe(
      'pii-scrubber is renamed to pii-masker in this change, but production still deploys it as pii-scrubber; write pii-masker',
    );
    expect(errorsOf(r)[3]!.message).toBe(
      'pii-scrubber is renamed to pii-masker in this change, but pii-masker@1.4.2 names pii-scrubber@1.4.1 as lineage.parent; write pii-masker@1.4.1',
    );
    expect(r.changes.filter((c) => c.kind === 'version-deleted')).toEqual([]);
  });

  it('treats a moved folder whose weights changed as a deletion plus a new model', () => {
    const repo = makeRepo();
    renamePii(repo, { environments: true });
    repo.edit(
      'models/pii-masker/versions/1.4.2.yaml',
      'a4d29bb7ba28b6626985e5c651f56cc4a089bbd40217fdda5bcc6d63e3c536a8',
      'cd'.repeat(32),
    );
    repo.edit(
      'models/pii-masker/versions/1.4.1.yaml',
      'aca85ab570ce16adc303df145d41a2d3e947aa0b1c1643d887646d471076c7cb',
      'ce'.repeat(32),
    );
    const r = repo.check();
    expect(r.changes.map((c) => c.kind)).not.toContain('model-renamed');
    expect(r.changes.map((c) => c.kind)).toContain('model-added');
    // the new name has no history on the base, so staging and production cannot take it yet
    expect(rules(r)).toEqual(['promotion-skipped-stage', 'promotion-skipped-stage']);
  });
});

describe('GitSource', { timeout: 30_000 }, () => {
  it('reads the same registry at a commit as the working tree holds', () => {
    const repo = makeRepo();
    const fromGit = new GitSource(repo.dir, 'HEAD', { maxFileBytes: 1 << 20 }).entries();
    const fromDisk = new WorkingTreeSource(repo.dir, { maxFileBytes: 1 << 20 }).entries();
    expect(fromGit.map((e) => e.path)).toEqual(fromDisk.map((e) => e.path));
    expect(fromGit.map((e) => e.bytes?.toString())).toEqual(fromDisk.map((e) => e.bytes?.toString()));
  });

  it('refuses a committed symlink and a file over the size cap, like the working tree does', () => {
    const repo = makeRepo();
    symlinkSync('/etc/passwd', join(repo.dir, 'environments/evil.yaml'));
    writeFileSync(join(repo.dir, 'environments/huge.yaml'), `models: {}\n${'#'.repeat(5000)}\n`);
    repo.commitBase('bad files');
    const source = new GitSource(repo.dir, repo.base, { maxFileBytes: 4096 });
    const byPath = new Map(source.entries().map((e) => [e.path, e]));
    expect(byPath.get('environments/evil.yaml')).toEqual({
      path: 'environments/evil.yaml',
      problem: 'symlink; registry files must be regular files in the repository',
    });
    expect(byPath.get('environments/huge.yaml')).toEqual({
      path: 'environments/huge.yaml',
      problem: 'file is 5012 bytes; the limit is 4096 bytes',
    });
    const sink = new DiagnosticSink();
    loadRegistry(source, sink);
    expect(sink.items.map((d) => [d.file, d.rule, d.line])).toEqual([
      ['environments/evil.yaml', 'file-access', 1],
      ['environments/huge.yaml', 'file-access', 1],
    ]);
  });

  it('reads paths relative to a registry kept in a sub-folder of the repository', () => {
    const repo = makeRepo();
    execFileSync('mkdir', ['-p', join(repo.dir, 'registry')]);
    repo.move('models', 'registry/models');
    repo.move('environments', 'registry/environments');
    repo.commitBase('moved');
    const r = checkAgainstBase(join(repo.dir, 'registry'), repo.base);
    expect(r.errors).toBe(0);
    expect(r.changes).toEqual([]);
  });

  it('rejects a ref that is not a commit, or looks like an option, as a usage error', () => {
    const repo = makeRepo();
    expect(() => new GitSource(repo.dir, 'no-such-branch', { maxFileBytes: 1 })).toThrow(
      /base "no-such-branch" is not a commit/,
    );
    expect(() => new GitSource(repo.dir, '--output=/tmp/x', { maxFileBytes: 1 })).toThrow(/is not a git ref/);
  });
});
