// The gateway's store-backed VersionSource runs on the edge-sync engine: versions land verified in a
// content-addressed cache, a fine-tune costs its changed tensors, parallel requests are serialised,
// and bytes that do not match the manifest never become a version folder.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreVersionSource } from '../../src/gateway/store-source.ts';
import type { ManifestVersion } from '../../src/manifest/manifest.ts';
import type { SyncEvent } from '../../src/sync/engine.ts';
import { HttpSource } from '../../src/sync/http-source.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, model, sha256, StoreServer, TestStore } from '../sync/helpers.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup() {
  const store = new TestStore();
  const v1 = model([1, 2, 3, 4, 5, 6, 7, 8]);
  const v2 = model([1, 2, 3, 4, 5, 60, 7, 8]); // one tensor of eight changed
  store.add('m', '1.0.0', { 'model.safetensors': v1, 'config.json': Buffer.from('{"v":1}\n') });
  store.add('m', '1.1.0', { 'model.safetensors': v2, 'config.json': Buffer.from('{"v":2}\n') });
  const server = await new StoreServer(store.dir).start();
  const http = new HttpSource(server.url, { idleTimeoutMs: 1_000 });
  cleanup.push(
    () => http.close(),
    () => server.close(),
  );
  const events: SyncEvent[] = [];
  const cache = tempDir('mg-gw-cache-');
  const source = new StoreVersionSource(http, cache, { retry: FAST_RETRY, onEvent: (e) => events.push(e) });
  const entry = (v: string) => ({ files: store.versions.get(`m@${v}`)! }) as ManifestVersion;
  return { store, server, source, cache, events, entry, v1, v2 };
}

describe('StoreVersionSource (gateway, over the sync engine)', () => {
  it('fetches a version verified into the cache, then a fine-tune as a delta, in parallel calls', async () => {
    const { server, source, cache, events, entry, v1, v2 } = await setup();
    const [a, b] = await Promise.all([
      source.materialize('m', '1.0.0', entry('1.0.0')),
      source.materialize('m', '1.1.0', entry('1.1.0')),
    ]);
    expect(a).toBe(join(cache, 'models', 'm', 'versions', '1.0.0'));
    expect(readFileSync(join(a, 'model.safetensors')).equals(v1)).toBe(true);
    expect(readFileSync(join(b, 'model.safetensors')).equals(v2)).toBe(true);
    expect(readFileSync(join(b, 'config.json'), 'utf8')).toBe('{"v":2}\n');
    // Served one after the other, so 1.1.0 reused the seven tensors 1.0.0 had just brought.
    const fetched = events.filter(
      (e): e is Extract<SyncEvent, { type: 'file' }> => e.type === 'file' && e.path === 'model.safetensors',
    );
    expect(fetched.map((e) => e.how)).toEqual(['download', 'delta']);
    expect(fetched[1]!.bytesFetched).toBeLessThan(v2.length / 4);
    expect(fetched[1]!.bytesReused).toBeGreaterThan(v2.length * 0.8);
    const blobBytes = server.bytesServed((s) => s.key.startsWith('blobs/'));
    expect(blobBytes).toBeLessThan(v1.length + v2.length / 4);
    // Asked again: nothing travels.
    const before = server.log.length;
    expect(await source.materialize('m', '1.1.0', entry('1.1.0'))).toBe(b);
    expect(server.log.length).toBe(before);
  });

  it('retain() prunes versions not listed and the blobs only they used, keeping what is listed intact', async () => {
    const { store, source, cache, events, entry } = await setup();
    const a = await source.materialize('m', '1.0.0', entry('1.0.0'));
    const b = await source.materialize('m', '1.1.0', entry('1.1.0'));
    await source.retain([{ model: 'm', version: '1.1.0', entry: entry('1.1.0') }]);
    expect(existsSync(a)).toBe(false);
    for (const f of store.versions.get('m@1.1.0')!) expect(sha256(readFileSync(join(b, f.path)))).toBe(f.sha256);
    const v1Only = store.versions
      .get('m@1.0.0')!
      .filter((f) => !store.versions.get('m@1.1.0')!.some((g) => g.sha256 === f.sha256));
    expect(v1Only.length).toBe(2); // its model file and its config
    for (const f of v1Only) expect(existsSync(join(cache, 'blobs', 'sha256', f.sha256))).toBe(false);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'gc', versionsRemoved: ['m@1.0.0'], blobsRemoved: 2 }),
    );
    // Listing everything frees nothing; the pruned version comes back on demand.
    await source.retain([{ model: 'm', version: '1.1.0', entry: entry('1.1.0') }]);
    expect(existsSync(b)).toBe(true);
    expect(readFileSync(join(await source.materialize('m', '1.0.0', entry('1.0.0')), 'config.json'), 'utf8')).toBe(
      '{"v":1}\n',
    );
  });

  it('retain() keeps what a listed version already fetched when its fetch failed halfway, so it resumes', async () => {
    const { store, server, source, cache, entry, v2 } = await setup();
    await source.materialize('m', '1.0.0', entry('1.0.0'));
    const model2 = store.versions.get('m@1.1.0')!.find((f) => f.path === 'model.safetensors')!;
    const cfg2 = store.versions.get('m@1.1.0')!.find((f) => f.path === 'config.json')!;
    // 1.1.0's config never arrives whole: the connection drops after 3 bytes, then the server fails.
    let asked = 0;
    server.hook = (h) => {
      if (h.key !== `blobs/sha256/${cfg2.sha256}`) return false;
      h.serve(asked++ === 0 ? { cutAfter: 3 } : { status: 500 });
      return true;
    };
    await expect(source.materialize('m', '1.1.0', entry('1.1.0'))).rejects.toThrow(/gave up after/);
    expect(existsSync(join(cache, 'blobs', 'sha256', model2.sha256))).toBe(true);
    await source.retain([{ model: 'm', version: '1.1.0', entry: entry('1.1.0') }]);
    expect(existsSync(join(cache, 'models', 'm', 'versions', '1.0.0'))).toBe(false); // not listed: gone
    expect(existsSync(join(cache, 'blobs', 'sha256', model2.sha256))).toBe(true); // listed version's bytes stay
    expect(readdirSync(join(cache, 'staging')).some((n) => n.startsWith(cfg2.sha256))).toBe(true); // and its partial
    server.hook = undefined;
    const served = server.log.length;
    const b = await source.materialize('m', '1.1.0', entry('1.1.0'));
    expect(readFileSync(join(b, 'model.safetensors')).equals(v2)).toBe(true);
    const again = server.log.slice(served).filter((e) => e.key.startsWith('blobs/'));
    expect(again.map((e) => [e.key.endsWith(cfg2.sha256), e.range])).toEqual([[true, 'bytes=3-7']]); // only the config's rest
  });

  it('refuses bytes that do not match the manifest and builds no version folder', async () => {
    const { store, source, cache, entry } = await setup();
    const cfg = store.versions.get('m@1.1.0')!.find((f) => f.path === 'config.json')!;
    store.put(`blobs/sha256/${cfg.sha256}`, Buffer.from('{"v":9}\n')); // same size, other bytes
    await expect(source.materialize('m', '1.1.0', entry('1.1.0'))).rejects.toThrow(
      /config\.json from .* does not match the manifest's sha256/,
    );
    expect(existsSync(join(cache, 'models', 'm', 'versions', '1.1.0'))).toBe(false);
    expect(existsSync(join(cache, 'blobs', 'sha256', cfg.sha256))).toBe(false);
    // A later call for another version still works: one failure does not jam the queue.
    const ok = await source.materialize('m', '1.0.0', entry('1.0.0'));
    expect(sha256(readFileSync(join(ok, 'config.json')))).toBe(
      store.versions.get('m@1.0.0')!.find((f) => f.path === 'config.json')!.sha256,
    );
  });

  it('refuses a manifest file path that would escape the version folder', async () => {
    const { source, entry } = await setup();
    const bad = { files: [{ ...entry('1.0.0').files[0]!, path: '../../evil' }] } as ManifestVersion;
    await expect(source.materialize('m', '1.0.0', bad)).rejects.toThrow(/unsafe file path "\.\.\/\.\.\/evil"/);
  });
});
