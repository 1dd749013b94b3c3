// The behaviour every BlobStore must have, run against the folder store and real radosgw alike.
import { createHash } from 'node:crypto';
import { utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { beforeAll, describe, expect, it } from 'vitest';
import { pushFolder } from '../../src/store/push.ts';
import { blobKey, indexKey } from '../../src/store/keys.ts';
import { AlreadyExistsError } from '../../src/store/types.ts';
import type { BlobStore } from '../../src/store/types.ts';
import { verifyArtifacts } from '../../src/store/verify.ts';
import { writeSafetensors } from '../../src/formats/safetensors.ts';
import type { SafetensorsIndex } from '../../src/formats/safetensors.ts';
import { randomFile, tempDir } from '../helpers/files.ts';
import { NotFoundError } from '../../src/lib/errors.ts';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

export function storeContract(
  label: string,
  makeStore: () => Promise<{ store: BlobStore; tamper: (key: string, data: Buffer) => Promise<void> }>,
): void {
  describe(`${label}: BlobStore contract`, () => {
    let store: BlobStore;
    let tamper: (key: string, data: Buffer) => Promise<void>;
    let work: string;
    beforeAll(async () => {
      ({ store, tamper } = await makeStore());
      work = await tempDir('contract');
    });

    it('puts, heads, gets (whole and ranged), lists and deletes small objects', async () => {
      await store.putObject('reports/m/1.0.0/cpu.json', '{"ok":true}', { contentType: 'application/json' });
      await store.putObject('reports/m/1.0.0/gpu.json', '0123456789');
      expect(await store.head('reports/m/1.0.0/cpu.json')).toEqual({
        key: 'reports/m/1.0.0/cpu.json',
        size: 11,
        ...(label === 'folder' ? {} : { sha256: sha('{"ok":true}') }),
        lastModified: expect.any(Date),
      });
      expect((await store.getBytes('reports/m/1.0.0/cpu.json')).toString()).toBe('{"ok":true}');
      expect(await text(await store.get('reports/m/1.0.0/gpu.json', { start: 2, end: 6 }))).toBe('2345');
      expect(await text(await store.get('reports/m/1.0.0/gpu.json', { start: 7 }))).toBe('789');
      expect(await text(await store.get('reports/m/1.0.0/gpu.json', { start: 3, end: 3 }))).toBe('');
      const listed = [];
      for await (const o of store.list('reports/m/')) listed.push([o.key, o.size]);
      expect(listed).toEqual([
        ['reports/m/1.0.0/cpu.json', 11],
        ['reports/m/1.0.0/gpu.json', 10],
      ]);
      // list() says when each object was written: gc's grace period is measured against it.
      const before = Date.now() - 120_000; // server clocks may differ a little from ours
      for await (const o of store.list('reports/m/')) {
        expect(o.lastModified).toBeInstanceOf(Date);
        expect(o.lastModified!.getTime()).toBeGreaterThan(before);
        expect(o.lastModified!.getTime()).toBeLessThan(Date.now() + 120_000);
      }
      const none = [];
      for await (const o of store.list('reports/zzz/')) none.push(o);
      expect(none).toEqual([]);
      await store.delete('reports/m/1.0.0/gpu.json');
      await store.delete('reports/m/1.0.0/gpu.json'); // deleting twice is fine
      expect(await store.exists('reports/m/1.0.0/gpu.json')).toBe(false);
      expect(await store.head('never/written')).toBeUndefined();
      await expect(store.getBytes('never/written')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.get('never/written')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('exclusive create: the first writer wins, the second gets AlreadyExistsError', async () => {
      await store.putObject('manifests/1.json', 'first', { exclusive: true });
      const e = await store.putObject('manifests/1.json', 'second', { exclusive: true }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(AlreadyExistsError);
      expect((e as Error).message).toMatch(/"manifests\/1.json" already exists/);
      expect((await store.getBytes('manifests/1.json')).toString()).toBe('first');
      await store.putObject('manifest.json', 'v1');
      await store.putObject('manifest.json', 'v2'); // non-exclusive replaces
      expect((await store.getBytes('manifest.json')).toString()).toBe('v2');
    });

    it('refuses traversal keys before touching the store', async () => {
      await expect(store.putObject('../escape', 'x')).rejects.toThrow(/invalid store key "..\/escape"/);
      await expect(store.putObject('a/../../escape', 'x')).rejects.toThrow(/"\.\." segment/);
      await expect(store.head('/etc/passwd')).rejects.toThrow(/absolute/);
      await expect(store.get('a\\..\\b')).rejects.toThrow(/backslash/);
    });

    it('pushes a model folder, then re-pushes it with 0 bytes sent', async () => {
      const dir = join(work, 'model');
      await mkdir(join(dir, 'sub'), { recursive: true });
      const weights = new Uint8Array(4096).map((_, i) => i % 251);
      await writeSafetensors(join(dir, 'model.safetensors'), [
        { name: 'w', dtype: 'F32', shape: [32, 32], data: weights },
      ]);
      const tok = await randomFile(join(dir, 'tokenizer.json'), 1000);
      await writeFile(join(dir, 'sub', 'empty.txt'), '');
      const stateDir = join(work, 'state');
      const first = await pushFolder({ dir, store, stateDir });
      expect(first.map((r) => r.path)).toEqual(['model.safetensors', 'sub/empty.txt', 'tokenizer.json']);
      const t = first.find((r) => r.path === 'tokenizer.json')!;
      expect(t).toMatchObject({
        size: 1000,
        sha256: sha(tok),
        blobKey: blobKey(sha(tok)),
        sentBytes: 1000,
        deduplicated: false,
        hashCached: false,
      });
      expect(t.indexKey).toBeUndefined();
      expect((await store.getBytes(t.blobKey)).equals(tok)).toBe(true);
      expect(await store.head(t.blobKey)).toMatchObject({ size: 1000, sha256: sha(tok) });

      const m = first.find((r) => r.path === 'model.safetensors')!;
      expect(m.indexKey).toBe(indexKey(m.sha256));
      const index = JSON.parse((await store.getBytes(m.indexKey!)).toString()) as SafetensorsIndex;
      expect(index.tensors).toEqual([
        expect.objectContaining({ name: 'w', dtype: 'F32', shape: [32, 32], sha256: sha(weights) }),
      ]);
      expect(first.find((r) => r.path === 'sub/empty.txt')!.sha256).toBe(sha(''));

      const progress: string[] = [];
      const again = await pushFolder({ dir, store, stateDir, onProgress: (p) => progress.push(p.kind) });
      expect(again.every((r) => r.deduplicated && r.sentBytes === 0 && r.hashCached)).toBe(true);
      expect(progress).not.toContain('hashing');
      expect(progress).not.toContain('uploading');

      // Same bytes under a new name, from a cold cache: deduplicated by content.
      await writeFile(join(dir, 'copy.json'), tok);
      const third = await pushFolder({ dir, store, stateDir: join(work, 'fresh-state') });
      expect(third.find((r) => r.path === 'copy.json')).toMatchObject({
        deduplicated: true,
        sentBytes: 0,
        hashCached: false,
      });

      // A touched file is re-hashed (the cache is keyed by mtime), still not re-sent.
      const later = new Date(Date.now() + 5000);
      await utimes(join(dir, 'tokenizer.json'), later, later);
      const fourth = await pushFolder({ dir, store, stateDir });
      expect(fourth.find((r) => r.path === 'tokenizer.json')).toMatchObject({
        hashCached: false,
        deduplicated: true,
        sentBytes: 0,
      });
    });

    it('dry run hashes and checks but sends nothing', async () => {
      const dir = join(work, 'dry');
      await mkdir(dir, { recursive: true });
      const data = await randomFile(join(dir, 'new.bin'), 2048);
      const r = await pushFolder({ dir, store, stateDir: join(work, 'state-dry'), dryRun: true });
      expect(r).toEqual([
        expect.objectContaining({ path: 'new.bin', sha256: sha(data), deduplicated: false, sentBytes: 0 }),
      ]);
      expect(await store.exists(blobKey(sha(data)))).toBe(false);
    });

    it('verifyArtifacts: ok, missing, wrong size, and altered bytes found by rehash', async () => {
      const dir = join(work, 'verify');
      await mkdir(dir, { recursive: true });
      const a = await randomFile(join(dir, 'a.bin'), 3000);
      const b = await randomFile(join(dir, 'b.bin'), 3000);
      await pushFolder({ dir, store, stateDir: join(work, 'state-verify') });
      const missing = { path: 'gone.bin', sha256: sha('nope'), size: 4 };
      const arts = [
        { path: 'a.bin', sha256: sha(a), size: a.length },
        { path: 'b.bin', sha256: sha(b), size: b.length },
        missing,
        { path: 'a-size.bin', sha256: sha(a), size: a.length + 1 },
      ];
      expect((await verifyArtifacts(store, arts)).map((c) => c.status)).toEqual(['ok', 'ok', 'missing', 'wrong-size']);

      const altered = Buffer.from(b);
      altered[100] = altered[100]! ^ 0xff;
      await tamper(blobKey(sha(b)), altered);
      const quick = await verifyArtifacts(store, arts);
      expect(quick[1]!.status).toBe('ok'); // same size and metadata: only reading the bytes can tell
      const deep = await verifyArtifacts(store, arts, { rehash: true });
      expect(deep.map((c) => c.status)).toEqual(['ok', 'wrong-bytes', 'missing', 'wrong-size']);
      expect(deep[1]!.detail).toContain(`hash to ${sha(altered)}`);
    });
  });
}
