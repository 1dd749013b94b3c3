// The server misbehaves on purpose: every bad answer must be detected, discarded and retried or
// routed around, and the device must end with verified bytes or its old version, never a mix.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HttpSource } from '../../src/sync/http-source.ts';
import { syncEnvironment, type SyncEvent } from '../../src/sync/engine.ts';
import { SourceManifestProvider } from '../../src/sync/manifest-provider.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, model, noise, StoreServer, TestStore, verifyCurrent, type Hook } from './helpers.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup() {
  const store = new TestStore();
  store.add('m', '1.0.0', { 'model.safetensors': model([1, 2, 3, 4, 5, 6, 7, 8]), 'weights.bin': noise(1, 300_000) });
  store.add('m', '1.1.0', { 'model.safetensors': model([1, 20, 3, 4, 50, 6, 7, 8]), 'weights.bin': noise(2, 300_000) });
  const server = await new StoreServer(store.dir).start();
  const source = new HttpSource(server.url, { idleTimeoutMs: 300 });
  cleanup.push(
    () => source.close(),
    () => server.close(),
  );
  const dir = tempDir('mg-device-');
  const events: SyncEvent[] = [];
  const sync = (manifest: Manifest) =>
    syncEnvironment({
      manifest,
      environment: 'production',
      dir,
      source,
      retry: FAST_RETRY,
      onEvent: (e) => events.push(e),
    });
  await sync(store.manifest(1, { m: '1.0.0' }).manifest);
  server.log.length = 0;
  const next = store.manifest(2, { m: '1.1.0' }).manifest;
  const blob = (path: string) => `blobs/sha256/${store.versions.get('m@1.1.0')!.find((f) => f.path === path)!.sha256}`;
  return { store, server, source, dir, events, sync, next, blob };
}

/** Misbehaves on the first `times` requests matching `when`, then answers normally. */
function first(times: number, when: (h: Hook) => boolean, act: (h: Hook) => void): (h: Hook) => boolean {
  let n = 0;
  return (h) => {
    if (n >= times || !when(h)) return false;
    n++;
    act(h);
    return true;
  };
}

describe('misbehaving server', () => {
  it('retries 500s with backoff, then succeeds', async () => {
    const { server, sync, next, dir, store, events, blob } = await setup();
    server.hook = first(
      2,
      (h) => h.key === blob('weights.bin'),
      (h) => {
        h.res.writeHead(503);
        h.res.end('busy');
      },
    );
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events.filter((e) => e.type === 'retry' && e.error.includes('HTTP 503'))).toHaveLength(2);
  });

  it('gives up after bounded retries on a permanent 500 with a network error, keeping the old version', async () => {
    const { server, sync, next, dir, store, blob } = await setup();
    server.hook = (h) => {
      if (h.key !== blob('weights.bin')) return false;
      h.res.writeHead(500);
      h.res.end();
      return true;
    };
    const err = await sync(next).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'NetworkError', exitCode: 3 });
    expect((err as Error).message).toMatch(/gave up after 4 attempts: HTTP 500/);
    expect(server.log.filter((s) => s.key === blob('weights.bin'))).toHaveLength(4);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
  });

  it('detects a truncated body and resumes with Range + If-Range from where it stopped', async () => {
    const { server, sync, next, dir, store, blob } = await setup();
    server.hook = first(
      1,
      (h) => h.key === blob('weights.bin'),
      (h) => h.serve({ cutAfter: 100_000 }),
    );
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    const reqs = server.log.filter((s) => s.key === blob('weights.bin'));
    expect(reqs.map((r) => [r.status, r.range, r.ifRange !== undefined])).toEqual([
      [200, undefined, false],
      [206, 'bytes=100000-299999', true],
    ]);
    expect(server.bytesServed((s) => s.key === blob('weights.bin'))).toBe(300_000); // resumed, not restarted
  });

  it('never splices a 200 answer to a Range request: the delta falls back to a whole download', async () => {
    const { server, sync, next, dir, store, events, blob } = await setup();
    server.hook = (h) => {
      if (!h.req.headers.range) return false;
      delete h.req.headers.range;
      h.serve();
      return true;
    };
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.safetensors',
        reason: expect.stringContaining('answered 200 to a Range request'),
      }),
    );
    const last = server.log.filter((s) => s.key === blob('model.safetensors')).at(-1)!;
    expect([last.status, last.range]).toEqual([200, undefined]); // the fallback asked for the whole file
  });

  it('discards a wrong Content-Range and retries', async () => {
    const { server, sync, next, dir, store, events } = await setup();
    server.hook = first(
      2,
      (h) => Boolean(h.req.headers.range),
      (h) => h.serve({ headers: { 'content-range': 'bytes 0-99/999' } }),
    );
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events.filter((e) => e.type === 'retry' && e.error.includes('wrong Content-Range'))).toHaveLength(2);
  });

  it('falls back to a whole download when every Content-Range is wrong', async () => {
    const { server, sync, next, dir, store, events } = await setup();
    server.hook = (h) => {
      if (!h.req.headers.range) return false;
      h.serve({ headers: { 'content-range': 'bytes 1-100/999' } });
      return true;
    };
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'fallback', reason: expect.stringContaining('gave up after 4 attempts') }),
    );
  });

  it('times out a stalled response (idle timeout) and retries', async () => {
    const { server, sync, next, dir, store, events, blob } = await setup();
    server.hook = first(
      1,
      (h) => h.key === blob('weights.bin'),
      (h) => h.serve({ stallAfter: 50_000 }),
    );
    const t0 = Date.now();
    await sync(next);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'retry', error: expect.stringContaining('no data for 300 ms') }),
    );
  });

  it('notices the object changed (ETag) mid-delta, discards the ranges and downloads whole', async () => {
    const { server, sync, next, dir, store, events, blob } = await setup();
    let ranges = 0;
    server.hook = (h) => {
      if (h.key === blob('model.safetensors') && h.req.headers.range && ++ranges === 2)
        server.etags.set(h.key, '"replaced"');
      return false;
    };
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.safetensors',
        reason: expect.stringContaining('the object changed'),
      }),
    );
  });

  it('restarts a resumed download from byte 0 when the ETag changed since the partial (If-Range)', async () => {
    const { server, sync, next, dir, store, blob } = await setup();
    server.hook = first(
      1,
      (h) => h.key === blob('weights.bin'),
      (h) => {
        h.serve({ cutAfter: 100_000 });
        server.etags.set(h.key, '"v2-of-the-object"');
      },
    );
    await sync(next);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    const reqs = server.log.filter((s) => s.key === blob('weights.bin'));
    // The resume carried the old validator; the server answered 200 with the whole object.
    expect(reqs.map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, undefined, undefined],
      [200, 'bytes=100000-299999', expect.stringMatching(/^"/)],
    ]);
  });

  it('refuses wrong bytes twice, keeps the old version and caches nothing', async () => {
    const { server, sync, next, dir, store, blob } = await setup();
    server.hook = (h) => {
      if (h.key !== blob('weights.bin')) return false;
      h.serve({ body: noise(99, 300_000) });
      return true;
    };
    const err = await sync(next).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'VerificationError', exitCode: 1 });
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
    expect(readdirSync(join(dir, 'blobs/sha256'))).not.toContain(blob('weights.bin').split('/').pop());
    expect(existsSync(join(dir, 'models/m/versions/1.1.0'))).toBe(false);
  });
});

describe('manifest polling', () => {
  async function provider(verify?: (b: Buffer) => void) {
    const store = new TestStore();
    store.add('m', '1.0.0', { 'a.bin': Buffer.from('a') });
    const server = await new StoreServer(store.dir).start();
    const source = new HttpSource(server.url);
    cleanup.push(
      () => source.close(),
      () => server.close(),
    );
    const p = new SourceManifestProvider({ source, retry: FAST_RETRY, ...(verify ? { verify } : {}) });
    return { store, server, p };
  }

  it('an unchanged manifest costs one 304 and no body', async () => {
    const { store, server, p } = await provider();
    store.manifest(5, { m: '1.0.0' });
    expect(await p.poll()).toMatchObject({ changed: true, manifest: { sequence: 5 } });
    expect(await p.poll()).toEqual({ changed: false });
    expect(server.log.at(-1)).toMatchObject({ status: 304, bodyBytes: 0, ifNoneMatch: p.accepted()!.etag });
  });

  it('sends an ETag only to the URL it came from', async () => {
    const { store, server, p } = await provider();
    store.manifest(5, { m: '1.0.0' });
    await p.poll();
    store.put('other.json', store.manifest(6, { m: '1.0.0' }, { write: false }).bytes);
    const other = new HttpSource(server.url);
    cleanup.push(() => other.close());
    const moved = new SourceManifestProvider({ source: other, key: 'other.json', accepted: p.accepted()! });
    expect(await moved.poll()).toMatchObject({ changed: true, manifest: { sequence: 6 } });
    expect(server.log.at(-1)!.ifNoneMatch).toBeUndefined();
  });

  it('refuses an older sequence (rollback) and a different manifest with the same sequence', async () => {
    const { store, p } = await provider();
    store.manifest(5, { m: '1.0.0' });
    await p.poll();
    store.manifest(4, { m: '1.0.0' });
    await expect(p.poll()).rejects.toThrow('manifest sequence 4 is older than the accepted 5: refused (rollback)');
    store.manifest(5, { m: '1.0.0' }, { expiresAt: new Date(Date.now() + 7 * 86_400_000) });
    await expect(p.poll()).rejects.toThrow('different content');
    expect(p.accepted()!.sequence).toBe(5);
  });

  it('refuses an expired manifest (freeze), even when the server keeps answering 304', async () => {
    const { store, p } = await provider();
    store.manifest(1, { m: '1.0.0' }, { expiresAt: new Date(Date.now() - 1000) });
    await expect(p.poll()).rejects.toMatchObject({
      name: 'VerificationError',
      message: expect.stringContaining('expired'),
    });
    const { store: s2, server, p: p2 } = await provider();
    s2.manifest(1, { m: '1.0.0' }, { expiresAt: new Date(Date.now() + 300) });
    await p2.poll();
    await new Promise((r) => setTimeout(r, 350));
    await expect(p2.poll()).rejects.toThrow(/expired at .* and the source offers nothing newer/);
    expect(server.log.at(-1)!.status).toBe(304);
  });

  it('refuses a manifest the verify hook rejects (tampered)', async () => {
    const { store, p } = await provider((b) => {
      if (b.includes('"evil"')) throw new Error('signature does not match');
    });
    store.manifest(1, { m: '1.0.0' });
    await p.poll();
    const { bytes } = store.manifest(2, { m: '1.0.0' }, { write: false });
    store.put('manifest.json', Buffer.from(bytes.toString().replace('"acme/models"', '"evil"')));
    await expect(p.poll()).rejects.toMatchObject({
      name: 'VerificationError',
      exitCode: 1,
      message: 'manifest refused by the verifier: signature does not match',
    });
    expect(p.accepted()!.sequence).toBe(1);
  });
});
