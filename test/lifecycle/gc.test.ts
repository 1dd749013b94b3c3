// gc against real stores: the folder store for the rules, real radosgw for the races (publish and push
// running while gc deletes, gc killed midway). After each, every blob a retained manifest references
// must still be in the store with bytes that hash to its sha256.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectGarbage, keyFamily, type GcResult } from '../../src/lifecycle/gc.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { publishRegistry } from '../../src/publish/index.ts';
import { listManifestSequences } from '../../src/publish/store-reads.ts';
import { FolderStore } from '../../src/store/fs-store.ts';
import { blobKey, indexKey, manifestSequenceKey } from '../../src/store/keys.ts';
import { pushFolder } from '../../src/store/push.ts';
import type { BlobStore } from '../../src/store/types.ts';
import { verifyArtifacts } from '../../src/store/verify.ts';
import { NODE, ROOT, tempDir } from '../helpers.ts';
import { type Fixture, makeFixture } from '../publish/helpers.ts';

const ARCHIVED = 'models/intent-classifier/versions/1.0.0.yaml';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function publish(fx: Fixture) {
  return publishRegistry({
    repo: fx.repo,
    store: fx.store,
    keys: fx.keys,
    source: { repository: 'acme/models', commit: fx.head() },
  });
}

/** Archive intent-classifier@1.0.0 (in no environment of the example fleet) and commit. */
function archiveOneZero(fx: Fixture): string[] {
  const p = join(fx.repo, ARCHIVED);
  const text = readFileSync(p, 'utf8');
  writeFileSync(p, `${text}archived: {on: 2026-11-30, reason: superseded}\n`);
  fx.git('commit', '-q', '-am', 'archive intent-classifier@1.0.0');
  const shas = [...text.matchAll(/path: ([^,]+), sha256: ([0-9a-f]{64})/g)].map((m) => [m[1]!, m[2]!] as const);
  // Only the bytes no other version shares become garbage.
  const others = readFileSync(join(fx.repo, 'models/intent-classifier/versions/1.1.0.yaml'), 'utf8');
  const elsewhere = (s: string) =>
    ['1.1.0', '2.0.0', '2.1.0'].some((v) =>
      readFileSync(join(fx.repo, `models/intent-classifier/versions/${v}.yaml`), 'utf8').includes(s),
    ) || others.includes(s);
  return shas.filter(([, s]) => !elsewhere(s)).map(([, s]) => s);
}

/** Random blobs nothing references, written through the store like push writes them. */
async function garbage(store: BlobStore, n: number, size = 512): Promise<string[]> {
  const dir = tempDir('mg-garbage-');
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = randomBytes(size);
    const f = join(dir, `g${i}`);
    writeFileSync(f, b);
    await store.putFile(blobKey(sha(b)), f, { sha256: sha(b), size: b.length });
    keys.push(blobKey(sha(b)));
  }
  return keys;
}

/** Every blob of every retained manifest (the newest `keep`, and the current one) present and re-hashed. */
async function assertRetainedIntact(store: BlobStore, keep: number): Promise<number> {
  const seqs = (await listManifestSequences(store)).slice(-keep);
  const manifests = await Promise.all(
    seqs.map(async (s) => JSON.parse((await store.getBytes(manifestSequenceKey(s))).toString()) as Manifest),
  );
  manifests.push(JSON.parse((await store.getBytes('manifest.json')).toString()) as Manifest);
  const files = new Map<string, { path: string; sha256: string; size: number }>();
  for (const m of manifests)
    for (const mv of Object.values(m.models))
      for (const v of Object.values(mv.versions)) for (const f of v.files) files.set(f.sha256, f);
  const checks = await verifyArtifacts(store, [...files.values()], { rehash: true });
  expect(checks.filter((c) => c.status !== 'ok')).toEqual([]);
  for (const m of manifests)
    for (const mv of Object.values(m.models))
      for (const v of Object.values(mv.versions))
        for (const f of v.files) if (f.index) expect(await store.exists(indexKey(f.sha256))).toBe(true);
  return files.size;
}

async function exists(store: BlobStore, keys: string[]): Promise<boolean[]> {
  return Promise.all(keys.map((k) => store.exists(k)));
}

describe('gc on the folder store', () => {
  it('dry run reports, --delete removes only unreferenced old blobs; young, referenced and unknown keys stay', async () => {
    const fx = await makeFixture('folder', 'gc');
    await publish(fx);
    const store = fx.store as FolderStore;
    const gone = archiveOneZero(fx);
    expect(gone.length).toBeGreaterThan(0);
    const old = await garbage(store, 3);
    const young = await garbage(store, 2);
    const past = new Date(Date.now() - 3 * 86_400_000);
    for (const k of [...old, ...gone.map(blobKey), ...gone.map(indexKey)]) {
      try {
        utimesSync(join(store.root, k), past, past);
      } catch {
        /* an index that does not exist */
      }
    }
    mkdirSync(join(store.root, 'scratch'), { recursive: true });
    writeFileSync(join(store.root, 'scratch', 'notes.txt'), 'not ours');
    utimesSync(join(store.root, 'scratch', 'notes.txt'), past, past);

    const dry = await collectGarbage({ store, repo: fx.repo, graceSeconds: 3600 });
    expect(dry.dryRun).toBe(true);
    const expected = [...old, ...gone.map(blobKey)].sort();
    expect(dry.deleted.map((d) => d.key).filter((k) => k.startsWith('blobs/'))).toEqual(expected);
    expect(dry.young).toBeGreaterThanOrEqual(2);
    expect(dry.unknown).toEqual(['scratch/notes.txt']);
    expect(dry.reclaimedBytes).toBe(dry.deleted.reduce((s, d) => s + d.size, 0));
    expect(await exists(store, expected)).toEqual(expected.map(() => true)); // dry run deleted nothing

    const real = await collectGarbage({ store, repo: fx.repo, graceSeconds: 3600, delete: true });
    expect(real.deleted.map((d) => d.key)).toEqual(dry.deleted.map((d) => d.key));
    expect(await exists(store, expected)).toEqual(expected.map(() => false));
    expect(await exists(store, young)).toEqual([true, true]);
    expect(readFileSync(join(store.root, 'scratch', 'notes.txt'), 'utf8')).toBe('not ours');
    await assertRetainedIntact(store, 10);
    // The card stays in git: un-archiving it would need a push of the bytes again, and publish says so.
    expect(readFileSync(join(fx.repo, ARCHIVED), 'utf8')).toContain('archived:');
  });

  it('a retained manifest protects an archived version; outside the window it does not', async () => {
    const fx = await makeFixture('folder', 'gc-ret');
    // Put 1.0.0 in dev's rollback window, publish (sequence 1 references it), then move dev off it and archive it.
    const inWindow = 'intent-classifier: {version: 2.1.0, rollbackWindow: [1.0.0]}';
    fx.commitEdit('environments/dev.yaml', 'intent-classifier: 2.1.0', inWindow);
    await publish(fx);
    fx.commitEdit('environments/dev.yaml', inWindow, 'intent-classifier: 2.1.0');
    await publish(fx);
    const gone = archiveOneZero(fx);
    const store = fx.store as FolderStore;
    const later = () => new Date(Date.now() + 400 * 86_400_000); // everything is older than grace and keep-days
    const kept = await collectGarbage({ store, repo: fx.repo, now: later, keepManifests: 2, keepDays: 0 });
    expect(kept.retention.manifests).toEqual([1, 2]);
    expect(kept.deleted.map((d) => d.key)).not.toContain(blobKey(gone[0]!));
    const swept = await collectGarbage({ store, repo: fx.repo, now: later, keepManifests: 1, keepDays: 0 });
    expect(swept.retention.manifests).toEqual([2]);
    expect(swept.deleted.map((d) => d.key)).toContain(blobKey(gone[0]!));
  });

  it('refuses what it cannot judge: a card that is not YAML, a manifest that is not JSON, bad retention', async () => {
    const fx = await makeFixture('folder', 'gc-bad');
    await publish(fx);
    await expect(collectGarbage({ store: fx.store, repo: fx.repo, keepManifests: 0 })).rejects.toThrow(
      /keep-manifests must be a whole number >= 1/,
    );
    await expect(collectGarbage({ store: fx.store, repo: fx.repo, ref: 'nope' })).rejects.toThrow(
      /"nope" is not a commit/,
    );
    await fx.store.putObject('manifests/99.json', '{"models": {tru');
    await expect(collectGarbage({ store: fx.store, repo: fx.repo })).rejects.toThrow(/manifests\/99.json is not JSON/);
    await fx.store.delete('manifests/99.json');
    writeFileSync(join(fx.repo, ARCHIVED), 'name: [unclosed\n');
    fx.git('commit', '-q', '-am', 'broken card');
    await expect(collectGarbage({ store: fx.store, repo: fx.repo })).rejects.toThrow(
      /models\/intent-classifier\/versions\/1.0.0.yaml at [0-9a-f]{12} is not valid YAML/,
    );
  });

  it('classifies every key family and treats the rest as unknown', () => {
    expect(keyFamily(`blobs/sha256/${'a'.repeat(64)}`)).toBe('blob');
    expect(keyFamily(`indexes/sha256/${'a'.repeat(64)}.json`)).toBe('index');
    expect(keyFamily('manifest.json')).toBe('manifest');
    expect(keyFamily('manifests/12.json')).toBe('manifests');
    expect(keyFamily('metadata/timestamp.json')).toBe('metadata');
    expect(keyFamily('targets/abc.manifest.json')).toBe('targets');
    expect(keyFamily('reports/m/1.0.0/cpu.json')).toBe('reports');
    expect(keyFamily(`blobs/sha256/${'A'.repeat(64)}`)).toBe('unknown');
    expect(keyFamily('blobs/sha256/short')).toBe('unknown');
    expect(keyFamily('../etc/passwd')).toBe('unknown');
  });
});

describe('gc on radosgw', () => {
  it('races a publish that brings an archived version back and a push of new blobs: nothing retained is lost', async () => {
    const fx = await makeFixture('s3', 'gc-race');
    await publish(fx);
    const gone = archiveOneZero(fx);
    const junk = await garbage(fx.store, 40);
    await new Promise((r) => setTimeout(r, 2500)); // junk and the archived blobs are older than the grace
    // Concurrently: gc deletes; the archive is reverted and published; new blobs are pushed.
    const pushDir = tempDir('mg-newweights-');
    const pushed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const b = randomBytes(2048);
      writeFileSync(join(pushDir, `w${i}.bin`), b);
      pushed.push(blobKey(sha(b)));
    }
    const gcRun = collectGarbage({
      store: fx.store,
      repo: fx.repo,
      graceSeconds: 2,
      delete: true,
      batch: 1,
      concurrency: 1,
    });
    const publisher = (async () => {
      await new Promise((r) => setTimeout(r, 50));
      fx.git('revert', '--no-edit', 'HEAD');
      return publish(fx).then(
        (r) => ({ ok: true as const, sequence: r.sequence }),
        (e: Error) => ({ ok: false as const, message: e.message }),
      );
    })();
    const pushStart = Date.now();
    const pushing = pushFolder({ dir: pushDir, store: fx.store, stateDir: tempDir('mg-pushstate-') }).then(() =>
      Date.now(),
    );
    const [r, pub, pushEnd] = await Promise.all([gcRun, publisher, pushing]);
    const gcEnd = Date.now();
    // Either publish came first (gc saw the new reference and kept the blobs) or gc did (publish found
    // them missing and refused to publish): a manifest never references a deleted blob.
    if (pub.ok) expect(await exists(fx.store, gone.map(blobKey))).toEqual(gone.map(() => true));
    else expect(pub.message).toMatch(/missing|not in the store|has no/i);
    await assertRetainedIntact(fx.store, 10);
    // Fresh pushes are younger than the grace unless gc outlived it after the push finished.
    if (gcEnd - pushEnd < 2000 && pushEnd - pushStart < 2000)
      expect(await exists(fx.store, pushed)).toEqual(pushed.map(() => true));
    const deleted = new Set(r.deleted.map((d) => d.key));
    expect(junk.filter((k) => deleted.has(k)).length).toBeGreaterThan(0);
    expect(r.dryRun).toBe(false);
  });

  it('killed midway, then run again: the rest is swept and every retained blob is still verified', async () => {
    const fx = await makeFixture('s3', 'gc-kill');
    await publish(fx);
    const junk = await garbage(fx.store, 60, 256);
    await new Promise((r) => setTimeout(r, 1500));
    const args = [
      join(ROOT, 'bin', 'model-gitops.js'),
      'gc',
      '--repo',
      fx.repo,
      '--store',
      fx.storeUrl,
      '--grace',
      '1',
      '--batch',
      '5',
      '--delete',
    ];
    const child = spawn(NODE, args, { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        // The first batch is done: kill it while the sweep is under way.
        if (/gc: sweep \d+\/\d+/.test(stderr) && !child.killed) {
          child.kill('SIGKILL');
        }
      });
      child.on('close', () => resolve());
    });
    expect(child.signalCode).toBe('SIGKILL');
    const left = (await exists(fx.store, junk)).filter(Boolean).length;
    expect(left).toBeGreaterThan(0); // it really was stopped midway
    expect(left).toBeLessThan(junk.length);
    await assertRetainedIntact(fx.store, 10);
    const again = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(NODE, [...args, '--json'], {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      c.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      c.on('close', (code) => resolve({ code, out }));
    });
    expect(again.code).toBe(0);
    const r = JSON.parse(again.out) as GcResult;
    expect(r.deleted.length).toBe(left);
    expect((await exists(fx.store, junk)).filter(Boolean)).toEqual([]);
    expect(await assertRetainedIntact(fx.store, 10)).toBeGreaterThan(5);
  });
});

describe('gc and unfinished uploads on radosgw', () => {
  it('an object with a multipart upload in progress under its key is kept, and listUploads names it', async () => {
    const { CreateMultipartUploadCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
    const { adminClient } = await import('../helpers/s3.ts');
    const fx = await makeFixture('s3', 'gc-mpu');
    await publish(fx);
    const [key] = await garbage(fx.store, 1);
    const other = await garbage(fx.store, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const bucket = fx.storeUrl.slice('s3://'.length).split('/')[0]!;
    const prefix = fx.storeUrl.slice(`s3://${bucket}/`.length);
    const up = await adminClient().send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    try {
      const pending = [];
      for await (const u of fx.store.listUploads!('blobs/')) pending.push(u.key);
      expect(pending).toEqual([key]);
      const r = await collectGarbage({ store: fx.store, repo: fx.repo, graceSeconds: 1, delete: true });
      expect(r.deleted.map((d) => d.key)).toEqual(other);
      expect(await fx.store.exists(key!)).toBe(true);
    } finally {
      await adminClient().send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/${key}`, UploadId: up.UploadId }),
      );
    }
  });
});
