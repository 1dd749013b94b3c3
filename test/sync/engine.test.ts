// Edge sync against a real HTTP server on 127.0.0.1: the happy path, tensor deltas, verification,
// activation and rollback, garbage collection, local state damage.
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpSource } from '../../src/sync/http-source.ts';
import { syncEnvironment, type SyncEvent, type SyncOptions } from '../../src/sync/engine.ts';
import { pollAndSync, acceptedForProvider } from '../../src/sync/client.ts';
import { SourceManifestProvider } from '../../src/sync/manifest-provider.ts';
import { planDelta } from '../../src/sync/delta.ts';
import { validIndex } from '../../src/sync/index-check.ts';
import { canaryBucket, pickVersion } from '../../src/sync/device-routing.ts';
import { createRouter } from '../../src/manifest/routing.ts';
import { indexSafetensorsBytes } from '../../src/formats/safetensors.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, model, StoreServer, TestStore, verifyCurrent } from './helpers.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup() {
  const store = new TestStore();
  const v1 = model([1, 2, 3, 4, 5, 6, 7, 8]);
  const v2 = model([1, 20, 3, 4, 50, 6, 7, 8]); // a fine-tune: 2 of 8 tensors change
  store.add('m', '1.0.0', { 'model.safetensors': v1, 'config.json': Buffer.from('{"v":1}\n') });
  store.add('m', '1.1.0', { 'model.safetensors': v2, 'config.json': Buffer.from('{"v":2}\n') });
  store.add('tok', '1.0.0', { 'tokenizer/vocab.json': Buffer.from('{"a":1}\n') });
  const server = await new StoreServer(store.dir).start();
  const source = new HttpSource(server.url, { idleTimeoutMs: 400 });
  cleanup.push(
    () => source.close(),
    () => server.close(),
  );
  const dir = tempDir('mg-device-');
  const events: SyncEvent[] = [];
  const sync = (manifest: Manifest, extra: Partial<SyncOptions> = {}) =>
    syncEnvironment({
      manifest,
      environment: 'production',
      dir,
      source,
      retry: FAST_RETRY,
      onEvent: (e) => events.push(e),
      ...extra,
    });
  return { store, server, source, dir, events, sync, v1, v2 };
}

describe('syncEnvironment', () => {
  it('installs every model of the environment, verified, and then costs nothing', async () => {
    const { store, server, dir, sync } = await setup();
    const { manifest } = store.manifest(1, { m: '1.0.0', tok: '1.0.0' });
    const r = await sync(manifest);
    expect(r.changed).toBe(true);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
    expect(verifyCurrent(dir, 'tok', store.versions)).toBe('1.0.0');
    expect(readlinkSync(join(dir, 'models/m/current'))).toBe('versions/1.0.0');
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.models.m).toEqual({ active: '1.0.0', history: ['1.0.0'] });
    const before = server.log.length;
    const again = await sync(manifest);
    expect(again).toMatchObject({ changed: false, bytesFetched: 0 });
    expect(server.log.length).toBe(before); // nothing asked of the network
  });

  it('downloads only the changed tensors and the header of a fine-tuned version', async () => {
    const { store, server, dir, sync, events, v2 } = await setup();
    await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    server.log.length = 0;
    const r = await sync(store.manifest(2, { m: '1.1.0' }).manifest);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    const idx = indexSafetensorsBytes('v2', v2);
    const header = 8 + idx.headerSize; // length field + JSON header: where tensor bytes start
    const changed = idx.tensors
      .filter((t) => t.name === 'layer.1.weight' || t.name === 'layer.4.weight')
      .reduce((n, t) => n + t.end - t.start, 0);
    const indexBytes = server.bytesServed((s) => s.key.startsWith('indexes/'));
    const blobBytes = server.bytesServed((s) => s.key.startsWith('blobs/'));
    const config = Buffer.from('{"v":2}\n').length;
    expect(blobBytes).toBeLessThanOrEqual(changed * 1.01 + header + config);
    expect(blobBytes).toBeGreaterThanOrEqual(changed);
    expect(r.bytesFetched).toBe(blobBytes + indexBytes);
    expect(r.bytesReused).toBe(v2.length - header - changed);
    // The header travelled as a Range request of its own, like the tensors.
    expect(server.log.filter((s) => s.key.startsWith('blobs/') && s.range).map((s) => s.range)).toContain(
      `bytes=0-${header - 1}`,
    );
    expect(events.find((e) => e.type === 'file' && e.path === 'model.safetensors' && e.how === 'delta')).toBeTruthy();
  });

  it('refuses a blob whose bytes do not match the manifest and keeps the old version', async () => {
    const { store, dir, sync } = await setup();
    await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    const cfg = store.versions.get('m@1.1.0')!.find((f) => f.path === 'config.json')!;
    store.put(`blobs/sha256/${cfg.sha256}`, Buffer.from('{"v":3}\n')); // same size, other bytes
    const err = await sync(store.manifest(2, { m: '1.1.0' }).manifest).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'VerificationError', exitCode: 1 });
    expect((err as Error).message).toContain('does not match the manifest');
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
    expect(existsSync(join(dir, 'blobs/sha256', cfg.sha256))).toBe(false);
  });

  it('rolls current back when the new version fails to load', async () => {
    const { store, dir, sync, events } = await setup();
    await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    const loaded: string[] = [];
    const err = await sync(store.manifest(2, { m: '1.1.0' }).manifest, {
      loadHook: (m, v, folder) => {
        loaded.push(`${m}@${v}`);
        expect(readFileSync(join(folder, 'config.json'), 'utf8')).toBe('{"v":2}\n');
        throw new Error('CUDA out of memory');
      },
    }).catch((e: unknown) => e);
    expect(loaded).toEqual(['m@1.1.0']);
    expect((err as Error).message).toMatch(/m@1\.1\.0 failed to load \(CUDA out of memory\); rolled back to 1\.0\.0/);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
    expect(events).toContainEqual(expect.objectContaining({ type: 'rolled-back', restored: '1.0.0' }));
  });

  it('keeps the last N versions per model and deletes blobs nothing uses', async () => {
    const { store, dir, sync } = await setup();
    store.add('m', '1.2.0', {
      'model.safetensors': model([1, 2, 3, 4, 5, 6, 7, 9]),
      'config.json': Buffer.from('{"v":4}\n'),
    });
    await sync(store.manifest(1, { m: '1.0.0' }).manifest, { keepVersions: 2 });
    await sync(store.manifest(2, { m: '1.1.0' }).manifest, { keepVersions: 2 });
    expect(readdirSync(join(dir, 'models/m/versions')).sort()).toEqual(['1.0.0', '1.1.0']);
    await sync(store.manifest(3, { m: '1.2.0' }).manifest, { keepVersions: 2 });
    expect(readdirSync(join(dir, 'models/m/versions')).sort()).toEqual(['1.1.0', '1.2.0']);
    const wanted = new Set([...store.versions.get('m@1.1.0')!, ...store.versions.get('m@1.2.0')!].map((f) => f.sha256));
    expect(new Set(readdirSync(join(dir, 'blobs/sha256')))).toEqual(wanted);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.2.0');
  });

  it('rebuilds corrupt local state from the disk instead of crashing', async () => {
    const { store, dir, sync, events } = await setup();
    await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    writeFileSync(join(dir, 'state.json'), '{"schema":1,"models":{"m":{"hist');
    const r = await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    expect(r.changed).toBe(false);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'warning', message: expect.stringContaining('rebuilt from the files on disk') }),
    );
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).models.m.active).toBe('1.0.0');
  });

  it('checks free disk space before downloading, with a clear error', async () => {
    const { store, dir, sync, server } = await setup();
    const err = await sync(store.manifest(1, { m: '1.0.0' }).manifest, { diskReserve: Number.MAX_SAFE_INTEGER }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/not enough disk space in .*: the update needs [\d.]+ MiB/);
    expect(server.bytesServed((s) => s.key.startsWith('blobs/'))).toBe(0);
    expect(existsSync(join(dir, 'models/m/current'))).toBe(false);
  });

  it('refuses manifest paths that would escape the version folder', async () => {
    const { store, sync } = await setup();
    const { manifest } = store.manifest(1, { m: '1.0.0' });
    manifest.models.m!.versions['1.0.0']!.files[1]!.path = '../../../etc/evil';
    await expect(sync(manifest)).rejects.toThrow('unsafe file path "../../../etc/evil"');
  });
});

describe('canary routing', () => {
  it('is deterministic per device key and gives the canary its share of buckets', async () => {
    const d = { version: '1.0.0', canary: { version: '1.1.0', weight: 25 } };
    const keys = Array.from({ length: 4000 }, (_, i) => `device-${i}`);
    const dev = { environment: 'production', model: 'm', canary: true };
    const picks = keys.map((k) => pickVersion(d, { ...dev, deviceKey: k }).version);
    expect(keys.map((k) => pickVersion(d, { ...dev, deviceKey: k }).version)).toEqual(picks);
    const share = picks.filter((v) => v === '1.1.0').length / keys.length;
    expect(share).toBeGreaterThan(0.22);
    expect(share).toBeLessThan(0.28);
    for (const k of keys.slice(0, 200))
      expect(pickVersion(d, { ...dev, deviceKey: k }).version === '1.1.0').toBe(
        canaryBucket('production', 'm', k) < 2500,
      );
    // Without opting in, every device runs the champion.
    expect(
      keys.every((k) => pickVersion(d, { environment: 'production', model: 'm', deviceKey: k }).version === '1.0.0'),
    ).toBe(true);
    // The device's bucket is the gateway's: same seed (the environment), model and key, same canary.
    const router = createRouter(
      {
        environments: { production: { models: { m: d } } },
        models: { m: { versions: { '1.0.0': {}, '1.1.0': {} } } },
      } as never,
      'production',
    );
    for (const k of keys.slice(0, 500)) {
      expect(canaryBucket('production', 'm', k)).toBe(router.bucket('m', k));
      expect(pickVersion(d, { ...dev, deviceKey: k }).version).toBe(router.route('m', k).version);
    }
  });

  it('installs the canary on an opted-in device whose bucket it owns, and the champion otherwise', async () => {
    const { store, dir, sync } = await setup();
    const inCanary = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
      (k) => canaryBucket('production', 'm', k) < 1000,
    )!;
    const outside = Array.from({ length: 100 }, (_, i) => `k${i}`).find(
      (k) => canaryBucket('production', 'm', k) >= 1000,
    )!;
    const { manifest } = store.manifest(1, { m: { version: '1.0.0', canary: { version: '1.1.0', weight: 10 } } });
    const r = await sync(manifest, { canary: true, deviceKey: inCanary });
    expect(r.models[0]).toMatchObject({ version: '1.1.0', role: 'canary' });
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    const r2 = await sync(manifest, { canary: true, deviceKey: outside });
    expect(r2.models[0]).toMatchObject({ version: '1.0.0', role: 'champion' });
  });
});

describe('planDelta', () => {
  it('coalesces near remote ranges and copies far local tensors', () => {
    const T = (name: string, start: number, end: number) => ({
      name,
      dtype: 'F32',
      shape: [1],
      start,
      end,
      sha256: name.repeat(64),
    });
    // headerSize is the JSON header length: tensor bytes start at 8 + 92 = 100.
    const index = validIndex(
      {
        format: 'safetensors',
        headerSize: 92,
        tensors: [T('a', 100, 200_000), T('b', 200_000, 300_000), T('c', 300_000, 310_000), T('d', 310_000, 600_000)],
      },
      600_000,
    )!;
    const L = (end: number) => ({ path: '/blob', start: 0, end });
    const local = new Map([
      ['a'.repeat(64), L(199_900)],
      ['c'.repeat(64), L(10_000)],
      ['d'.repeat(64), L(9)],
    ]); // d: wrong length, not used
    const plan = planDelta(index, 600_000, local);
    // a is large and local: copied. c (10 KB, local) sits between two remote ranges: fetched with them.
    expect(plan.remote).toEqual([
      [0, 100],
      [200_000, 600_000],
    ]);
    expect(plan.local.map((l) => [l.start, l.end])).toEqual([[100, 200_000]]);
    expect(planDelta(index, 600_000, local, 1).remote).toEqual([
      [0, 100],
      [200_000, 300_000],
      [310_000, 600_000],
    ]);
    expect(plan.remoteBytes + plan.localBytes).toBe(600_000);
  });
});

describe('pollAndSync', () => {
  it('polls with If-None-Match: an unchanged manifest costs one 304 and no body', async () => {
    const { store, server, dir, source } = await setup();
    store.manifest(1, { m: '1.0.0' });
    const provider = async () => {
      const accepted = await acceptedForProvider(dir);
      return new SourceManifestProvider({ source, retry: FAST_RETRY, ...(accepted ? { accepted } : {}) });
    };
    await pollAndSync({ provider: await provider(), environment: 'production', dir, source, retry: FAST_RETRY });
    server.log.length = 0;
    const r = await pollAndSync({
      provider: await provider(),
      environment: 'production',
      dir,
      source,
      retry: FAST_RETRY,
    });
    expect(r).toMatchObject({ manifestChanged: false, changed: false, bytesFetched: 0 });
    expect(server.log).toEqual([
      expect.objectContaining({ key: 'manifest.json', status: 304, bodyBytes: 0, ifNoneMatch: expect.any(String) }),
    ]);
  });
});
