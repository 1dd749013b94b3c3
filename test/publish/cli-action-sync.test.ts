// keys init, exit codes and secrecy of the commands; the publish action through the runner contract;
// sync --trust end to end against a published folder store.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishRegistry } from '../../src/publish/index.ts';
import { FolderSource } from '../../src/sync/folder-source.ts';
import { TufManifestProvider } from '../../src/sync/tuf-provider.ts';
import { NODE, ROOT, tempDir } from '../helpers.ts';
import { cli, makeFixture, secretsOf, verified, type Run } from './helpers.ts';

const noSecrets = (runs: Run[], secrets: string[]) => {
  for (const r of runs) {
    const text = r.stdout + r.stderr;
    expect(text).not.toContain('model-gitops-key:');
    for (const s of secrets) expect(text).not.toContain(s);
  }
};

describe.concurrent('publishing commands', () => {
  it('keys init writes 0600 keys, initialises the store, pins trust/root.json, names the secrets, and refuses to run twice', async () => {
    const repo = tempDir('mg-keys-');
    const store = join(repo, 'store');
    const init = await cli([
      'keys',
      'init',
      '--repo',
      repo,
      '--store',
      store,
      '--root-keys',
      '3',
      '--root-threshold',
      '2',
      '--json',
    ]);
    expect(init.status, init.stderr).toBe(0);
    const out = JSON.parse(init.stdout);
    expect(out.rootKeys).toHaveLength(3);
    expect(out.rootThreshold).toBe(2);
    expect(out.onlineKeys.map((k: { command: string }) => k.command)).toEqual([
      expect.stringMatching(/^gh secret set MODEL_GITOPS_TARGETS_KEY --env production < \S*targets\.key$/),
      expect.stringMatching(/^gh secret set MODEL_GITOPS_SNAPSHOT_KEY --env production < \S*snapshot\.key$/),
      expect.stringMatching(/^gh secret set MODEL_GITOPS_TIMESTAMP_KEY --env production < \S*timestamp\.key$/),
    ]);
    const keysDir = join(repo, '.model-gitops', 'keys');
    for (const f of readdirSync(keysDir).filter((n) => n.endsWith('.key')))
      expect(statSync(join(keysDir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(keysDir, '.gitignore'), 'utf8')).toContain('*');
    expect(
      readFileSync(join(repo, 'trust', 'root.json')).equals(readFileSync(join(store, 'metadata', '1.root.json'))),
    ).toBe(true);
    const human = await cli(['keys', 'init', '--repo', repo, '--store', store]);
    expect(human.status).toBe(2);
    expect(human.stderr).toContain('refusing to overwrite existing keys');
    // keys elsewhere, same repository: the pinned root is not replaced either
    const other = await cli([
      'keys',
      'init',
      '--repo',
      repo,
      '--store',
      join(repo, 'store2'),
      '--keys-dir',
      join(repo, 'k2'),
    ]);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('already pins a trust root');
    // a new repository pointed at an initialised store
    const third = await cli(['keys', 'init', '--repo', tempDir('mg-keys2-'), '--store', store]);
    expect(third.status).toBe(2);
    expect(third.stderr).toContain('already has metadata/1.root.json');
    expect(existsSync(join(repo, 'k2', 'targets.key'))).toBe(false);
    noSecrets(
      [init, human, other, third],
      secretsOf(keysDir, ['root-1', 'root-2', 'root-3', 'targets', 'snapshot', 'timestamp']),
    );
  });

  it('publish, resign, history and manifest verify: exit codes, and no private key in any output', {
    timeout: 150_000,
  }, async () => {
    const fx = await makeFixture('folder', 'cli');
    const runs: Run[] = [];
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const r = await cli(args, env);
      runs.push(r);
      return r;
    };
    const pub = await run([
      'publish',
      '--repo',
      fx.repo,
      '--store',
      fx.storeUrl,
      '--keys-dir',
      fx.keysDir,
      '--source-repo',
      'acme/models',
    ]);
    expect(pub.status, pub.stderr).toBe(0);
    expect(pub.stdout).toContain('published sequence 1');
    expect(pub.stdout).toMatch(/^production \(added\):$/m);
    // keys from the environment (the CI secrets) instead of files
    const env = Object.fromEntries(
      ['targets', 'snapshot', 'timestamp'].map((r) => [
        `MODEL_GITOPS_${r.toUpperCase()}_KEY`,
        readFileSync(join(fx.keysDir, `${r}.key`), 'utf8'),
      ]),
    );
    const resign = await run(['resign', '--store', fx.storeUrl, '--keys-dir', tempDir('mg-nokeys-'), '--json'], env);
    expect(resign.status, resign.stderr).toBe(0);
    expect(JSON.parse(resign.stdout)).toMatchObject({ sequence: 1, timestampVersion: 2 });
    const noKeys = await run([
      'publish',
      '--repo',
      fx.repo,
      '--store',
      fx.storeUrl,
      '--keys-dir',
      tempDir('mg-nokeys-'),
    ]);
    expect(noKeys.status).toBe(2);
    expect(noKeys.stderr).toContain('no targets key: set MODEL_GITOPS_TARGETS_KEY');
    const badKey = await run(['publish', '--repo', fx.repo, '--store', fx.storeUrl], {
      ...env,
      MODEL_GITOPS_TARGETS_KEY: env.MODEL_GITOPS_TARGETS_KEY!.slice(0, -9) + 'AAAAAAAA\n',
    });
    expect(badKey.status).toBe(2);
    const usage = await run(['publish', '--bogus']);
    expect(usage.status).toBe(2);
    const verifyOk = await run(['manifest', 'verify', fx.storeUrl, '--trust', fx.rootFile]);
    expect(verifyOk.status, verifyOk.stderr).toBe(0);
    expect(verifyOk.stdout).toMatch(new RegExp(`sequence 1, published \\S+ from acme/models@${fx.head()}`));
    // a root this store was never signed with: refused with the reason
    const strangerRepo = tempDir('mg-stranger-');
    expect((await run(['keys', 'init', '--repo', strangerRepo, '--store', join(strangerRepo, 's')])).status).toBe(0);
    const stranger = await run([
      'manifest',
      'verify',
      fx.storeUrl,
      '--trust',
      join(strangerRepo, 'trust', 'root.json'),
      '--json',
    ]);
    expect(stranger.status).toBe(1);
    expect(JSON.parse(stranger.stdout)).toMatchObject({ ok: false, reason: 'unsigned' });
    const hist = await run(['history', '--store', fx.storeUrl, '--json']);
    expect(
      JSON.parse(hist.stdout).entries.map((e: { sequence: number; current: boolean }) => [e.sequence, e.current]),
    ).toEqual([[1, true]]);
    noSecrets(runs, [...secretsOf(fx.keysDir), ...secretsOf(join(strangerRepo, '.model-gitops', 'keys'))]);
  });

  it('the publish action: inputs, masked secrets, outputs and job summary', async () => {
    const fx = await makeFixture('folder', 'action');
    const c1 = fx.commitEdit('environments/production.yaml', 'pii-scrubber: 1.4.1', 'pii-scrubber: 1.4.2');
    await publishRegistry({
      repo: fx.repo,
      store: fx.store,
      keys: fx.keys,
      source: { repository: 'acme/models', commit: fx.git('rev-parse', 'HEAD~1') },
    });
    const dir = tempDir('mg-runner-');
    const output = join(dir, 'output');
    const summary = join(dir, 'summary');
    writeFileSync(output, '');
    writeFileSync(summary, '');
    const keyEnv = Object.fromEntries(
      ['targets', 'snapshot', 'timestamp'].map((r) => [
        `MODEL_GITOPS_${r.toUpperCase()}_KEY`,
        readFileSync(join(fx.keysDir, `${r}.key`), 'utf8').trim(),
      ]),
    );
    const env = {
      PATH: process.env.PATH ?? '',
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_WORKSPACE: fx.repo,
      GITHUB_SHA: c1,
      GITHUB_REPOSITORY: 'acme/models',
      INPUT_STORE: fx.storeUrl,
      INPUT_REPO: '.',
      'INPUT_EXPIRES-IN': '3d',
      INPUT_RECOVER: 'true',
      AWS_SECRET_ACCESS_KEY: 'not-a-real-secret-value-123',
      ...keyEnv,
    };
    const r = spawnSync(NODE, [join(ROOT, 'actions/publish-manifest/dist/index.js')], {
      cwd: fx.repo,
      env,
      encoding: 'utf8',
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const v of Object.values(keyEnv)) expect(r.stdout).toContain(`::add-mask::${v}`);
    expect(r.stdout).toContain('::add-mask::not-a-real-secret-value-123');
    const outputs = readFileSync(output, 'utf8');
    const value = (name: string) => new RegExp(`^${name}<<(\\S+)\\n([\\s\\S]*?)\\n\\1$`, 'm').exec(outputs)?.[2];
    expect(value('status')).toBe('published');
    expect(value('sequence')).toBe('2');
    const v = await verified(fx);
    expect(value('sha256')).toBe(v.sha256);
    expect(v.manifest.source).toEqual({ repository: 'acme/models', commit: c1 });
    const s = readFileSync(summary, 'utf8');
    expect(s).toContain('Manifest sequence 2 published');
    expect(s).toContain(`acme/models@${c1}`);
    expect(s).toContain('<tr><td>production</td><td>pii-scrubber</td><td>1.4.1</td><td>1.4.2</td></tr>');
    // a failure is one ::error with the reason
    const missing = spawnSync(NODE, [join(ROOT, 'actions/publish-manifest/dist/index.js')], {
      cwd: fx.repo,
      env: { ...env, MODEL_GITOPS_TARGETS_KEY: '' },
      encoding: 'utf8',
    });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain('::error::no targets key');
  });

  it('sync --trust: syncs a verified environment slice, polls cheaply, refuses a tampered slice with exit 1', {
    timeout: 120_000,
  }, async () => {
    const fx = await makeFixture('folder', 'sync');
    await publishRegistry({
      repo: fx.repo,
      store: fx.store,
      keys: fx.keys,
      source: { repository: 'acme/models', commit: fx.head() },
    });
    const dir = tempDir('mg-device-');
    const args = (store: string, d: string) => [
      'sync',
      '--manifest',
      store,
      '--trust',
      fx.rootFile,
      '--environment',
      'production',
      '--dir',
      d,
      '--json',
    ];
    const first = await cli(args(fx.storeUrl, dir));
    expect(first.status, first.stderr + first.stdout).toBe(0);
    const result = JSON.parse(first.stdout.trim().split('\n').pop()!);
    expect(result).toMatchObject({ ok: true, sequence: 1, changed: true });
    expect(result.models.map((m: { model: string; version: string }) => `${m.model}@${m.version}`)).toEqual([
      'intent-classifier@2.0.0',
      'pii-scrubber@1.4.1',
      'structured-extractor@1.0.0',
    ]);
    expect(existsSync(join(dir, 'trust', 'timestamp.json'))).toBe(true);

    // The provider polls timestamp.json conditionally before any TUF work.
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    const provider = new TufManifestProvider({
      trustRoot: fx.rootFile,
      source: new FolderSource(fx.storeUrl),
      trustSource: fx.storeUrl,
      stateDir: join(dir, 'trust'),
      environment: 'production',
      accepted: state.manifest,
    });
    expect(await provider.poll()).toEqual({ changed: false });
    expect(provider.lastPoll).toBe('not-modified');

    // Tamper with the signed production slice in a copy of the store: a new device refuses it.
    const evil = join(tempDir('mg-evil-'), 'store');
    cpSync(fx.storeUrl, evil, { recursive: true });
    const sliceDir = join(evil, 'targets', 'environments');
    const file = readdirSync(sliceDir).find((n) => n.endsWith('.production.json'))!;
    const slice = JSON.parse(readFileSync(join(sliceDir, file), 'utf8'));
    slice.environments.production.models['pii-scrubber'].version = '1.4.2';
    writeFileSync(join(sliceDir, file), JSON.stringify(slice));
    const fresh = tempDir('mg-device2-');
    const refused = await cli(args(evil, fresh));
    expect(refused.status).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/tampered/);
    expect(existsSync(join(fresh, 'models', 'pii-scrubber', 'current'))).toBe(false);
    // The first device, pointed at the tampered copy, keeps what it runs: the timestamp is unchanged, so nothing is fetched.
    const kept = await cli(args(evil, dir));
    expect(kept.status, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true, changed: false });
  });
});
