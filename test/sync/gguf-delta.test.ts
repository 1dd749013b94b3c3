// Tensor-level deltas for GGUF: the real push writes the format-neutral index into a real folder store
// (and into radosgw S3), and a device that holds version 1 fetches only the changed tensor of version 2
// (an unchanged header is copied, zero padding written), or the header too when the metadata changed;
// it ends byte-identical, and falls back or refuses truthfully when the index or the served bytes are
// tampered with.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestFile } from '../../src/manifest/manifest.ts';
import { FolderStore } from '../../src/store/fs-store.ts';
import { blobKey, indexKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { pushFolder } from '../../src/store/push.ts';
import type { BlobStore } from '../../src/store/types.ts';
import type { TensorIndex } from '../../src/formats/tensor-index.ts';
import { syncEnvironment, type SyncEvent } from '../../src/sync/engine.ts';
import { HttpSource } from '../../src/sync/http-source.ts';
import { S3Source } from '../../src/sync/s3-source.ts';
import type { BlobSource } from '../../src/sync/source.ts';
import { encodeGguf } from '../helpers/gguf.ts';
import { createBucket, removeBucket, s3Endpoint } from '../helpers/s3.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, noise, StoreServer, TestStore, verifyCurrent } from './helpers.ts';

const Q8_0_BYTES = (values: number) => (values / 32) * 34;
const CHANGED = 'blk.1.attn_q.weight';

/** A small GGUF v3: F32 and Q8_0 tensors, a 12-byte norm that forces alignment padding; `seed` changes CHANGED only. */
function gguf(seed: number, name = 'tiny'): Buffer {
  const t = (name: string, type: 'F32' | 'Q8_0', dims: number[], bytes: number, s: number) => ({
    name,
    type,
    dims,
    data: noise(s, bytes),
  });
  return encodeGguf({
    version: 3,
    metadata: { 'general.architecture': 'llama', 'general.name': name, 'llama.block_count': 2 },
    tensors: [
      t('token_embd.weight', 'F32', [256, 256], 256 * 256 * 4, 1),
      t('blk.0.attn_norm.weight', 'F32', [3], 12, 2),
      t('blk.0.attn_q.weight', 'Q8_0', [256, 512], Q8_0_BYTES(256 * 512), 3),
      t('blk.1.attn_norm.weight', 'F32', [3], 12, 4),
      t(CHANGED, 'Q8_0', [256, 256], Q8_0_BYTES(256 * 256), seed),
      t('output.weight', 'Q8_0', [256, 512], Q8_0_BYTES(256 * 512), 6),
    ],
  });
}

const v1 = gguf(5);
const v2 = gguf(50);
/** Version 3: the same change, plus new metadata (a longer name): the header differs, every offset moves. */
const v3 = gguf(50, 'tiny-renamed-for-the-test');
/** Version 4: other metadata of the same length ("tinx"): a header of the same size with other bytes. */
const v4 = gguf(50, 'tinx');

/** Pushes each version's folder with the real push; records the manifest files in `store.versions`. */
async function pushVersions(store: BlobStore, versions: TestStore['versions']): Promise<void> {
  const stateDir = tempDir('mg-push-state-');
  for (const [version, bytes] of [
    ['1.0.0', v1],
    ['1.1.0', v2],
    ['1.2.0', v3],
    ['1.3.0', v4],
  ] as const) {
    const dir = tempDir('mg-gguf-model-');
    writeFileSync(join(dir, 'model.gguf'), bytes);
    writeFileSync(join(dir, 'config.json'), `{"v":"${version}"}\n`);
    const results = await pushFolder({ dir, store, stateDir });
    versions.set(
      `m@${version}`,
      results.map(
        (r): ManifestFile => ({ path: r.path, sha256: r.sha256, size: r.size, ...(r.indexKey ? { index: true } : {}) }),
      ),
    );
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup() {
  const store = new TestStore();
  await pushVersions(new FolderStore(store.dir), store.versions);
  const server = await new StoreServer(store.dir).start();
  const source = new HttpSource(server.url, { idleTimeoutMs: 2_000 });
  cleanup.push(
    () => source.close(),
    () => server.close(),
  );
  const dir = tempDir('mg-device-');
  const events: SyncEvent[] = [];
  const sync = (sequence: number, version: string, src: BlobSource = source) =>
    syncEnvironment({
      manifest: store.manifest(sequence, { m: version }).manifest,
      environment: 'production',
      dir,
      source: src,
      retry: FAST_RETRY,
      onEvent: (e) => events.push(e),
    });
  const file2 = store.versions.get('m@1.1.0')!.find((f) => f.path === 'model.gguf')!;
  const index2 = JSON.parse(readFileSync(join(store.dir, indexKey(file2.sha256)), 'utf8')) as TensorIndex;
  return { store, server, dir, events, sync, file2, index2 };
}

const header = (index: TensorIndex) => index.regions[0]!.end;
const changedBytes = (index: TensorIndex) => {
  const t = index.tensors.find((x) => x.name === CHANGED)!;
  return t.end - t.start;
};

describe('GGUF delta sync through a folder store', () => {
  it('push writes a version-2 GGUF index; sync fetches the changed tensor only (the header is reused)', async () => {
    const { store, server, dir, events, sync, file2, index2 } = await setup();
    expect(index2).toMatchObject({ format: 'gguf', version: 2, size: v2.length, sha256: file2.sha256 });
    expect(index2.regions.some((r) => r.kind === 'padding' && r.zero)).toBe(true);
    expect(file2.index).toBe(true);
    await sync(1, '1.0.0');
    server.log.length = 0;
    const r = await sync(2, '1.1.0');
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v2)).toBe(true);
    const ggufKey = blobKey(file2.sha256);
    const blobBytes = server.bytesServed((s) => s.key === ggufKey);
    const changed = changedBytes(index2);
    expect(blobBytes).toBe(changed); // v1 and v2 share the header: copied, not fetched
    expect(blobBytes).toBeLessThanOrEqual(changed * 1.01 + header(index2));
    const t = index2.tensors.find((x) => x.name === CHANGED)!;
    expect(server.log.filter((s) => s.key === ggufKey).map((s) => s.range)).toEqual([`bytes=${t.start}-${t.end - 1}`]);
    const zeroPadding = index2.regions.reduce((n, g) => n + (g.zero ? g.end - g.start : 0), 0);
    expect(r.bytesReused).toBe(v2.length - changed - zeroPadding);
    expect(events).toContainEqual(expect.objectContaining({ type: 'file', path: 'model.gguf', how: 'delta' }));
  });

  it('new metadata moves every tensor: the header and the changed tensor are fetched, the rest copied from any offset', async () => {
    const { store, server, dir, sync } = await setup();
    await sync(1, '1.0.0');
    server.log.length = 0;
    await sync(2, '1.2.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v3)).toBe(true);
    const f3 = store.versions.get('m@1.2.0')!.find((f) => f.path === 'model.gguf')!;
    const index3 = JSON.parse(readFileSync(join(store.dir, indexKey(f3.sha256)), 'utf8')) as TensorIndex;
    const t = index3.tensors.find((x) => x.name === CHANGED)!;
    const v1Index = JSON.parse(
      readFileSync(join(store.dir, indexKey(store.versions.get('m@1.0.0')![1]!.sha256)), 'utf8'),
    ) as TensorIndex;
    expect(index3.tensors[0]!.start).not.toBe(v1Index.tensors[0]!.start); // offsets moved
    expect(server.log.filter((s) => s.key === blobKey(f3.sha256)).map((s) => s.range)).toEqual([
      `bytes=0-${header(index3) - 1}`,
      `bytes=${t.start}-${t.end - 1}`,
    ]);
  });

  it('an index claiming the old header for other metadata of the same length: the sha256 check catches it', async () => {
    const { store, dir, events, sync } = await setup();
    await sync(1, '1.0.0');
    const f1 = store.versions.get('m@1.0.0')!.find((f) => f.path === 'model.gguf')!;
    const f4 = store.versions.get('m@1.3.0')!.find((f) => f.path === 'model.gguf')!;
    const read = (sha: string) => JSON.parse(readFileSync(join(store.dir, indexKey(sha)), 'utf8')) as TensorIndex;
    const tampered = read(f4.sha256);
    expect(tampered.regions[0]!.end).toBe(read(f1.sha256).regions[0]!.end); // same length, other bytes
    tampered.regions[0]!.sha256 = read(f1.sha256).regions[0]!.sha256; // the lie: "you hold this header"
    writeFileSync(join(store.dir, indexKey(f4.sha256)), JSON.stringify(tampered));
    await sync(2, '1.3.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v4)).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.gguf',
        reason: 'the assembled file failed its sha256 check',
      }),
    );
    expect(events).toContainEqual(expect.objectContaining({ type: 'file', path: 'model.gguf', how: 'download' }));
  });

  it('an index for another file, or one whose ranges disagree with the header, falls back to a whole download', async () => {
    const { store, dir, events, sync, file2, index2 } = await setup();
    await sync(1, '1.0.0');
    const key = join(store.dir, indexKey(file2.sha256));
    writeFileSync(key, JSON.stringify({ ...index2, sha256: '0'.repeat(64) }));
    await sync(2, '1.1.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v2)).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.gguf',
        reason: `the index object is unusable: the index describes the file with sha256 ${'0'.repeat(64)}, not ${file2.sha256}`,
      }),
    );
    expect(events).toContainEqual(expect.objectContaining({ type: 'file', path: 'model.gguf', how: 'download' }));
  });

  it('tensor ranges moved inside a consistent index are caught by the fetched header', async () => {
    const { store, dir, events, sync, file2, index2 } = await setup();
    await sync(1, '1.0.0');
    // Move the boundary between two tensors by 32 bytes: the index still tiles the file, the header disagrees.
    const tampered = structuredClone(index2);
    const i = tampered.tensors.findIndex((x) => x.name === CHANGED);
    tampered.tensors[i]!.end += 32;
    const next = tampered.regions.find((r) => r.start === index2.tensors[i]!.end);
    if (next) next.start += 32;
    else tampered.tensors[i + 1]!.start += 32;
    writeFileSync(join(store.dir, indexKey(file2.sha256)), JSON.stringify(tampered));
    await sync(2, '1.1.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v2)).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.gguf',
        reason: 'the index does not match the file header',
      }),
    );
  });

  it('a lying tensor digest assembles a wrong file: the sha256 check refuses it and the whole download is used', async () => {
    const { store, dir, events, sync, file2, index2 } = await setup();
    await sync(1, '1.0.0');
    const old = JSON.parse(
      readFileSync(join(store.dir, indexKey(store.versions.get('m@1.0.0')![1]!.sha256)), 'utf8'),
    ) as TensorIndex;
    const tampered = structuredClone(index2);
    // Claim the changed tensor is the old one: the device copies version 1's bytes into place.
    tampered.tensors.find((x) => x.name === CHANGED)!.sha256 = old.tensors.find((x) => x.name === CHANGED)!.sha256;
    writeFileSync(join(store.dir, indexKey(file2.sha256)), JSON.stringify(tampered));
    await sync(2, '1.1.0');
    expect(readFileSync(join(dir, 'models/m/current/model.gguf')).equals(v2)).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.gguf',
        reason: 'the assembled file failed its sha256 check',
      }),
    );
  });

  it('tampered blob bytes are refused and the last good version stays active', async () => {
    const { store, dir, sync, file2, index2 } = await setup();
    await sync(1, '1.0.0');
    const blob = join(store.dir, blobKey(file2.sha256));
    const bytes = Buffer.from(readFileSync(blob));
    bytes[index2.tensors.find((x) => x.name === CHANGED)!.start + 7]! ^= 0xff; // one bit flip inside the changed tensor
    writeFileSync(blob, bytes);
    const err = await sync(2, '1.1.0').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'VerificationError' });
    expect((err as Error).message).toMatch(/^m: model\.gguf from .* does not match the manifest's sha256/);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
  });
});

describe('GGUF delta sync through radosgw S3', () => {
  let bucket: string;
  beforeAll(async () => {
    bucket = await createBucket('gguf-delta');
  });
  afterAll(async () => {
    if (bucket) await removeBucket(bucket);
  });

  it('push to S3 writes the index; the device fetches the changed tensor (+ the index object)', async () => {
    const url = `s3://${bucket}/fleet/`;
    const store = new TestStore(); // its manifest() only; the bytes live in S3
    const s3 = openStore(url, { s3: { stateDir: tempDir('mg-s3-state-') } });
    await pushVersions(s3, store.versions);
    const file2 = store.versions.get('m@1.1.0')!.find((f) => f.path === 'model.gguf')!;
    const indexBody = await s3.getBytes(indexKey(file2.sha256));
    const index2 = JSON.parse(indexBody.toString()) as TensorIndex;
    expect(index2).toMatchObject({ format: 'gguf', version: 2, sha256: file2.sha256 });
    const source = S3Source.fromUrl(url, { ...process.env, MG_S3_ENDPOINT: s3Endpoint() });
    cleanup.push(() => source.close());
    const dir = tempDir('mg-device-');
    mkdirSync(dir, { recursive: true });
    const sync = (sequence: number, version: string) =>
      syncEnvironment({
        manifest: store.manifest(sequence, { m: version }, { write: false }).manifest,
        environment: 'production',
        dir,
        source,
        retry: FAST_RETRY,
      });
    await sync(1, '1.0.0');
    const r = await sync(2, '1.1.0');
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    const config = store.versions.get('m@1.1.0')!.find((f) => f.path === 'config.json')!.size;
    const changed = changedBytes(index2);
    expect(r.bytesFetched).toBeGreaterThanOrEqual(changed + indexBody.length); // the header is reused
    expect(r.bytesFetched).toBeLessThanOrEqual(changed * 1.01 + header(index2) + indexBody.length + config);
  });
});
