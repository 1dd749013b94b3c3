// The process dies at every step of a sync (MG_SYNC_CRASH_AT makes the real CLI exit there); the
// device must then run the old version or the new one, verified, and a fresh sync must finish the job.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CrashStep } from '../../src/sync/crash.ts';
import { acceptedForProvider, pollAndSync } from '../../src/sync/client.ts';
import { HttpSource } from '../../src/sync/http-source.ts';
import { SourceManifestProvider } from '../../src/sync/manifest-provider.ts';
import { tempDir } from '../helpers.ts';
import { cli, model, noise, StoreServer, TestStore, verifyCurrent } from './helpers.ts';

const store = new TestStore();
let server: StoreServer;

beforeAll(async () => {
  store.add('m', '1.0.0', { 'model.safetensors': model([1, 2, 3, 4, 5, 6, 7, 8]), 'weights.bin': noise(1, 400_000) });
  store.add('m', '1.1.0', { 'model.safetensors': model([1, 20, 3, 4, 50, 6, 7, 8]), 'weights.bin': noise(2, 400_000) });
  store.put('manifest-1.json', store.manifest(1, { m: '1.0.0' }, { write: false }).bytes);
  store.put('manifest-2.json', store.manifest(2, { m: '1.1.0' }, { write: false }).bytes);
  server = await new StoreServer(store.dir).start();
});
afterAll(async () => {
  await server.close();
});

async function acceptedNow(dir: string) {
  const accepted = await acceptedForProvider(dir);
  return accepted ? { accepted } : {};
}

const STEPS: CrashStep[] = [
  'after-header-fetch',
  'mid-range-download',
  'after-staging-verify',
  'before-symlink-swap',
  'after-swap-before-state',
  'during-gc',
];

describe.concurrent('crash at every step of a sync', () => {
  it.each(STEPS)('%s: old or new version active and verified, then a fresh sync completes', async (step) => {
    const dir = tempDir('mg-crash-');
    // The first install runs in this process (what the CLI runs, minus argument parsing), to keep the suite fast.
    const source = new HttpSource(server.url);
    const inProcess = async (key: string) =>
      pollAndSync({
        provider: new SourceManifestProvider({ source, key, ...(await acceptedNow(dir)) }),
        source,
        environment: 'production',
        dir,
        keepVersions: 1,
      });
    await inProcess('manifest-1.json');
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');

    const crashed = await cli(
      [
        'sync',
        '--manifest',
        `${server.url}manifest-2.json`,
        '--environment',
        'production',
        '--dir',
        dir,
        '--keep',
        '1',
        '--json',
      ],
      { MG_SYNC_CRASH_AT: step },
    );
    expect(crashed.stderr).toContain(`MG_SYNC_CRASH_AT: exiting at ${step}`); // the step was really reached
    expect(crashed.status).toBe(97);
    const after = verifyCurrent(dir, 'm', store.versions);
    expect(['1.0.0', '1.1.0']).toContain(after);
    if (['after-header-fetch', 'mid-range-download', 'after-staging-verify', 'before-symlink-swap'].includes(step))
      expect(after).toBe('1.0.0');
    else expect(after).toBe('1.1.0');

    // The fresh sync: a new process in real life; here a new provider and engine over the same folder
    // (the crashed child's lock is stale: its pid is gone).
    const fresh = await inProcess('manifest-2.json');
    source.close();
    expect(fresh).toMatchObject({ sequence: 2, models: [{ model: 'm', version: '1.1.0' }] });
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    // Nothing is left behind: one version kept (--keep 1), no temp folders, no partials.
    expect(readdirSync(join(dir, 'models/m/versions'))).toEqual(['1.1.0']);
    expect(readdirSync(join(dir, 'staging'))).toEqual([]);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });
});
