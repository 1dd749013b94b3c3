// archive as a git change (real repo, real CLI), and a synced device's `status` naming the deprecation
// of the version it runs.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE, ROOT, tempDir } from '../helpers.ts';
import { cleanupRepos, makeRepo } from '../check/repo.ts';
import { cli, model, TestStore } from '../sync/helpers.ts';

const mg = (cwd: string, ...args: string[]) =>
  spawnSync(NODE, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });

afterAll(cleanupRepos);

describe('archive', () => {
  it('drops the version from canaries and rollback windows, marks the card, commits; check accepts it', () => {
    const repo = makeRepo();
    const r = mg(
      repo.dir,
      'archive',
      'intent-classifier@1.1.0',
      '--reason',
      'superseded by 2.x',
      '--on',
      '2026-11-30',
      '--commit',
      '--json',
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.changes).toEqual([
      'environments/production.yaml: 1.1.0 removed from the rollback window',
      'models/intent-classifier/versions/1.1.0.yaml: archived on 2026-11-30 (superseded by 2.x)',
    ]);
    expect(out.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(repo.read('models/intent-classifier/versions/1.1.0.yaml')).toMatch(
      /serving: \{engine: builtin\}\narchived: \{on: 2026-11-30, reason: "superseded by 2.x"\}\n$/,
    );
    const prod = repo.read('environments/production.yaml');
    expect(prod).not.toContain('1.1.0');
    expect(prod).toContain('# champion'); // comments survive the edit
    expect(repo.git('diff', '--stat', 'HEAD~1', '--', 'environments/production.yaml')).toMatch(
      /1 file changed, 1 deletion\(-\)$/,
    );
    expect(repo.git('log', '-1', '--format=%s')).toBe('archive: intent-classifier@1.1.0 (superseded by 2.x)');
    // The card edit is allowed on a merged version, and nothing else complains.
    const c = repo.check();
    expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('a canary is dropped; putting an archived version back into an environment is refused by check', () => {
    const repo = makeRepo();
    expect(mg(repo.dir, 'archive', 'intent-classifier@2.1.0').status).not.toBe(0); // dev and staging serve it
    const repo2 = makeRepo();
    repo2.edit('environments/dev.yaml', 'intent-classifier: 2.1.0', 'intent-classifier: 2.0.0');
    repo2.edit('environments/staging.yaml', 'intent-classifier: 2.1.0', 'intent-classifier: 2.0.0');
    repo2.commitBase();
    const r = mg(repo2.dir, 'archive', 'intent-classifier@2.1.0', '--on', '2026-11-30');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('environments/production.yaml: canary 2.1.0 dropped');
    repo2.commitBase();
    repo2.edit('environments/dev.yaml', 'intent-classifier: 2.0.0', 'intent-classifier: 2.1.0');
    const d = repo2.check().diagnostics.find((x) => x.rule === 'environment-archived');
    expect(d?.severity).toBe('error');
    expect(d?.message).toMatch(
      /^intent-classifier@2\.1\.0 was archived on 2026-11-30; an archived version cannot run anywhere/,
    );
  });

  it('edits a one-line flow mapping in place', () => {
    const repo = makeRepo();
    repo.edit(
      'environments/dev.yaml',
      'intent-classifier: 2.1.0',
      'intent-classifier: {version: 2.1.0, rollbackWindow: [1.0.0, 2.0.0]}  # kept',
    );
    repo.commitBase();
    expect(mg(repo.dir, 'archive', 'intent-classifier@1.0.0').status).toBe(0);
    expect(repo.read('environments/dev.yaml')).toContain(
      'intent-classifier: {version: 2.1.0, rollbackWindow: [2.0.0]}  # kept\n',
    );
    expect(repo.check().diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });

  it('refuses a champion, an unknown version, a malformed target, a second archive and a bad date by name', () => {
    const repo = makeRepo();
    const champion = mg(repo.dir, 'archive', 'intent-classifier@2.0.0');
    expect(champion.status).toBe(2);
    expect(champion.stderr).toContain(
      'intent-classifier@2.0.0 is the version production serves (environments/production.yaml); promote or roll back to another version there first',
    );
    expect(mg(repo.dir, 'archive', 'intent-classifier@9.9.9').stderr).toContain(
      'intent-classifier has no version 9.9.9',
    );
    expect(mg(repo.dir, 'archive', 'nope@1.0.0').stderr).toContain('no model "nope" in models/');
    expect(mg(repo.dir, 'archive', 'intent-classifier').stderr).toContain('expected MODEL@VERSION');
    expect(mg(repo.dir, 'archive', 'intent-classifier@1.0.0', '--on', '30/11/2026').stderr).toContain(
      '--on must be a date written YYYY-MM-DD',
    );
    expect(mg(repo.dir, 'archive', 'intent-classifier@1.0.0', '--on', '2026-11-30').status).toBe(0);
    expect(mg(repo.dir, 'archive', 'intent-classifier@1.0.0').stderr).toContain('is already archived (on 2026-11-30)');
    expect(
      readFileSync(join(repo.dir, 'models/intent-classifier/versions/1.0.0.yaml'), 'utf8').match(/archived:/g),
    ).toHaveLength(1);
  });
});

describe('device status', () => {
  it('shows the deprecation of the version a device runs', async () => {
    const store = new TestStore();
    store.add('m', '1.0.0', { 'model.safetensors': model([1, 2, 3, 4]), 'config.json': Buffer.from('{}\n') });
    const { manifest } = store.manifest(3, { m: '1.0.0' }, { write: false });
    manifest.models.m!.versions['1.0.0']!.deprecation = {
      since: '2026-01-05',
      sunset: '2099-01-01',
      replacement: 'm@2.0.0',
      reason: 'retrained',
    };
    store.put('manifest.json', Buffer.from(JSON.stringify(manifest)));
    const dir = tempDir('mg-status-');
    const r = await cli([
      'sync',
      '--manifest',
      join(store.dir, 'manifest.json'),
      '--environment',
      'production',
      '--dir',
      dir,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const st = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    expect(st.models[0]).toMatchObject({
      model: 'm',
      active: '1.0.0',
      deprecation: { sunset: '2099-01-01', replacement: 'm@2.0.0' },
    });
    const human = (await cli(['status', '--dir', dir])).stdout;
    expect(human).toContain('1.0.0 [deprecated, since 2026-01-05, sunset 2099-01-01, use m@2.0.0 (retrained)]');
  });
});
