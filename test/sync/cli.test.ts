// `model-gitops sync` and `status` as a supervisor sees them: NDJSON events, exit codes, status output.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.ts';
import { cli, model, StoreServer, TestStore, verifyCurrent } from './helpers.ts';

const store = new TestStore();
let server: StoreServer;
beforeAll(async () => {
  store.add('m', '1.0.0', { 'model.safetensors': model([1, 2, 3, 4]), 'config.json': Buffer.from('{}\n') });
  store.manifest(3, { m: '1.0.0' });
  store.put(
    'expired.json',
    store.manifest(9, { m: '1.0.0' }, { write: false, expiresAt: new Date(Date.now() - 60_000) }).bytes,
  );
  server = await new StoreServer(store.dir).start();
  server.hook = (h) => {
    if (!h.key.startsWith('broken/')) return false;
    h.res.writeHead(502);
    h.res.end();
    return true;
  };
});
afterAll(async () => {
  await server.close();
});

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('model-gitops sync / status', () => {
  it('syncs over HTTP with NDJSON events, is then up to date for one 304, and status reports it', async () => {
    const dir = tempDir('mg-cli-');
    const args = [
      'sync',
      '--manifest',
      `${server.url}manifest.json`,
      '--environment',
      'production',
      '--dir',
      dir,
      '--json',
    ];
    const r = await cli(args);
    expect(r.status, r.stderr).toBe(0);
    const events = lines(r.stdout);
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['plan', 'file', 'activated', 'result']));
    expect(events.at(-1)).toMatchObject({ event: 'result', ok: true, sequence: 3, changed: true });
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');

    server.log.length = 0;
    const again = await cli(args);
    expect(again.status).toBe(0);
    expect(lines(again.stdout).at(-1)).toMatchObject({
      ok: true,
      manifestChanged: false,
      changed: false,
      bytesFetched: 0,
    });
    expect(server.log).toEqual([expect.objectContaining({ key: 'manifest.json', status: 304, bodyBytes: 0 })]);

    const st = await cli(['status', '--dir', dir, '--json']);
    expect(st.status).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status).toMatchObject({
      environment: 'production',
      manifest: { sequence: 3, expired: false },
      models: [{ model: 'm', active: '1.0.0', versions: ['1.0.0'] }],
      staged: [],
    });
    const human = await cli(['status', '--dir', dir]);
    expect(human.stdout).toMatch(/manifest: sequence 3, expires \d{4}-/);
    expect(human.stdout).toMatch(/m\s+1\.0\.0\s+1\.0\.0/);
  });

  it('works from a local folder store too', async () => {
    const dir = tempDir('mg-cli-');
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
    expect(r.stdout).toMatch(/production \(manifest 3\): synced: m@1\.0\.0/);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
  });

  it('exits 1 on a verification failure, 3 on a network failure, 2 on usage errors', async () => {
    const dir = tempDir('mg-cli-');
    const expired = await cli([
      'sync',
      '--manifest',
      `${server.url}expired.json`,
      '--environment',
      'production',
      '--dir',
      dir,
      '--json',
    ]);
    expect(expired.status).toBe(1);
    expect(lines(expired.stdout).at(-1)).toMatchObject({
      event: 'result',
      ok: false,
      exitCode: 1,
      message: expect.stringContaining('expired'),
    });
    const network = await cli([
      'sync',
      '--manifest',
      `${server.url}broken/manifest.json`,
      '--environment',
      'production',
      '--dir',
      dir,
      '--retries',
      '2',
    ]);
    expect(network.status).toBe(3);
    expect(network.stderr).toMatch(/gave up after 2 attempts: HTTP 502/);
    const usage = await cli(['sync', '--environment', 'production', '--dir', dir]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--manifest is required');
    const trust = await cli([
      'sync',
      '--manifest',
      `${server.url}manifest.json`,
      '--environment',
      'production',
      '--dir',
      dir,
      '--trust',
      'root.json',
    ]);
    expect(trust.status).toBe(2);
    // --trust is wired to TUF (src/sync/tuf-provider.ts): a missing pinned root is a usage error.
    expect(trust.stderr).toContain('cannot read the trusted root');
  });
});
