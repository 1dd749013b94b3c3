// A model that leaves the device's environment stops running there: `current` goes, its files stay for
// --keep and gc, the JSON stream says so, and `status` no longer calls it active.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { syncEnvironment, type SyncEvent, type SyncOptions } from '../../src/sync/engine.ts';
import { FolderSource } from '../../src/sync/folder-source.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { cli, FAST_RETRY, model, TestStore, verifyCurrent } from './helpers.ts';

function setup() {
  const store = new TestStore();
  store.add('m', '1.0.0', { 'model.safetensors': model([1, 2], 256) });
  store.add('m', '1.1.0', { 'model.safetensors': model([1, 3], 256) });
  store.add('gone', '1.0.0', { 'model.safetensors': model([7, 8], 256), 'config.json': Buffer.from('{}\n') });
  store.add('gone', '1.1.0', { 'model.safetensors': model([7, 9], 256), 'config.json': Buffer.from('{}\n') });
  const dir = tempDir('mg-removed-');
  const events: SyncEvent[] = [];
  const sync = (manifest: Manifest, extra: Partial<SyncOptions> = {}) =>
    syncEnvironment({
      manifest,
      environment: 'production',
      dir,
      source: new FolderSource(store.dir),
      retry: FAST_RETRY,
      onEvent: (e) => events.push(e),
      ...extra,
    });
  return { store, dir, events, sync };
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('a model removed from the environment', () => {
  it('is deactivated: current removed, a deactivated event, its versions kept, state truthful', async () => {
    const { store, dir, events, sync } = setup();
    await sync(store.manifest(1, { m: '1.0.0', gone: '1.0.0' }).manifest);
    await sync(store.manifest(2, { m: '1.0.0', gone: '1.1.0' }).manifest);
    events.length = 0;
    const r = await sync(store.manifest(3, { m: '1.0.0' }).manifest, { keepVersions: 2 });
    expect(r.deactivated).toEqual([{ model: 'gone', version: '1.1.0' }]);
    expect(r.changed).toBe(true);
    expect(events).toContainEqual({
      type: 'deactivated',
      model: 'gone',
      version: '1.1.0',
      reason: 'gone is no longer in production',
    });
    expect(existsSync(join(dir, 'models/gone/current'))).toBe(false);
    // Files stay per --keep: both versions remain for a quick return.
    expect(existsSync(join(dir, 'models/gone/versions/1.1.0/model.safetensors'))).toBe(true);
    expect(existsSync(join(dir, 'models/gone/versions/1.0.0/model.safetensors'))).toBe(true);
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.0.0');
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.models.gone.active).toBeUndefined();
    expect(state.models.gone.removed).toMatchObject({ environment: 'production' });
    expect(state.models.gone.history).toEqual(['1.1.0', '1.0.0']);

    // Once is enough: the next sync neither repeats the event nor counts a change.
    events.length = 0;
    const again = await sync(store.manifest(4, { m: '1.0.0' }).manifest, { keepVersions: 2 });
    expect(again).toMatchObject({ changed: false, deactivated: [] });
    expect(events.filter((e) => e.type === 'deactivated')).toEqual([]);
  });

  it('keeps only --keep versions of it, and gc frees the blobs of the rest', async () => {
    const { store, dir, events, sync } = setup();
    await sync(store.manifest(1, { m: '1.0.0', gone: '1.0.0' }).manifest);
    await sync(store.manifest(2, { m: '1.0.0', gone: '1.1.0' }).manifest);
    events.length = 0;
    await sync(store.manifest(3, { m: '1.0.0' }).manifest, { keepVersions: 1 });
    expect(existsSync(join(dir, 'models/gone/versions/1.1.0'))).toBe(true); // the last that ran
    expect(existsSync(join(dir, 'models/gone/versions/1.0.0'))).toBe(false);
    const gc = events.find((e) => e.type === 'gc');
    expect(gc).toMatchObject({ versionsRemoved: ['gone@1.0.0'] });
    const goneOld = store.versions.get('gone@1.0.0')!.find((f) => f.path === 'model.safetensors')!;
    expect(existsSync(join(dir, 'blobs/sha256', goneOld.sha256))).toBe(false);
  });

  it('comes back from its kept files without a download when the environment names it again', async () => {
    const { store, dir, sync } = setup();
    await sync(store.manifest(1, { m: '1.0.0', gone: '1.0.0' }).manifest);
    await sync(store.manifest(2, { m: '1.0.0' }).manifest);
    const back = await sync(store.manifest(3, { m: '1.0.0', gone: '1.0.0' }).manifest);
    expect(back.bytesFetched).toBe(0);
    expect(verifyCurrent(dir, 'gone', store.versions)).toBe('1.0.0');
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.models.gone).toEqual({ active: '1.0.0', history: ['1.0.0'] });
  });

  it('finishes a deactivation a crash interrupted between the unlink and state.json', async () => {
    const { store, dir, events, sync } = setup();
    await sync(store.manifest(1, { m: '1.0.0', gone: '1.0.0' }).manifest);
    rmSync(join(dir, 'models/gone/current')); // as if the process died right after the unlink
    events.length = 0;
    const r = await sync(store.manifest(2, { m: '1.0.0' }).manifest);
    expect(r.deactivated).toEqual([{ model: 'gone', version: '1.0.0' }]);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.models.gone.active).toBeUndefined();
    expect(state.models.gone.removed.environment).toBe('production');
  });
});

describe('model-gitops sync / status for a removed model', () => {
  it('streams a deactivated event and status reports it removed, not active', async () => {
    const { store } = setup();
    const dir = tempDir('mg-removed-cli-');
    const args = ['sync', '--manifest', join(store.dir, 'manifest.json'), '--environment', 'production', '--dir', dir];
    store.manifest(1, { m: '1.0.0', gone: '1.0.0' });
    expect((await cli([...args, '--json'])).status).toBe(0);
    store.manifest(2, { m: '1.0.0' });
    const r = await cli([...args, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const events = lines(r.stdout);
    expect(events).toContainEqual(
      expect.objectContaining({
        event: 'deactivated',
        model: 'gone',
        version: '1.0.0',
        reason: 'gone is no longer in production',
      }),
    );
    expect(events.at(-1)).toMatchObject({
      event: 'result',
      ok: true,
      changed: true,
      deactivated: [{ model: 'gone', version: '1.0.0' }],
    });

    const st = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    expect(st.models).toEqual([
      {
        model: 'gone',
        state: 'removed',
        active: null,
        versions: ['1.0.0'],
        base: null,
        removed: { at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), environment: 'production' },
        lastError: null,
      },
      expect.objectContaining({ model: 'm', state: 'active', active: '1.0.0' }),
    ]);
    const human = (await cli(['status', '--dir', dir])).stdout;
    expect(human).toMatch(/gone\s+- \(removed from production \d{4}-[^)]+\)\s+1\.0\.0/);
    expect(human).toMatch(/m\s+1\.0\.0\s+1\.0\.0/);

    // Human sync output names the deactivation too.
    store.manifest(3, { m: '1.1.0', gone: '1.0.0' });
    await cli(args);
    store.manifest(4, { m: '1.1.0' });
    const text = await cli(args);
    expect(text.stderr).toContain('gone: 1.0.0 deactivated (gone is no longer in production)');
    expect(text.stdout).toMatch(/production \(manifest 4\): synced: gone deactivated;/);
  });

  it('shows a model whose current link was removed by hand as inactive, whatever state.json says', async () => {
    const { store, sync, dir } = setup();
    await sync(store.manifest(1, { m: '1.0.0' }).manifest);
    rmSync(join(dir, 'models/m/current'));
    const st = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    expect(st.models).toEqual([
      expect.objectContaining({ model: 'm', state: 'inactive', active: null, removed: null }),
    ]);
    writeFileSync(join(dir, 'state.json'), 'not json');
    const damaged = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    expect(damaged.models[0]).toMatchObject({ model: 'm', state: 'inactive', active: null });
  });
});
