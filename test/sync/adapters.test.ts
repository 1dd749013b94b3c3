// Adapters on a device: the adapter's version folder links to its base's version folder, the link follows
// the base within range, a base out of range or missing is refused, and gc keeps a base an adapter uses.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { syncEnvironment, type SyncEvent, type SyncOptions } from '../../src/sync/engine.ts';
import { FolderSource } from '../../src/sync/folder-source.ts';
import { tempDir } from '../helpers.ts';
import { cli, FAST_RETRY, model, sha256, TestStore } from './helpers.ts';

const BASE = 'llama-base';
const LORA = 'support-lora';

function setup() {
  const store = new TestStore();
  for (const [v, seed] of [
    ['1.0.0', 1],
    ['1.1.0', 2],
    ['2.0.0', 3],
  ] as const)
    store.add(BASE, v, {
      'model.safetensors': model([seed, seed + 10], 256),
      'config.json': Buffer.from(`{"v":"${v}"}\n`),
    });
  store.add(LORA, '1.0.0', {
    'adapter_model.safetensors': model([100], 64),
    'adapter_config.json': Buffer.from('{"r":8,"lora_alpha":16,"base_model_name_or_path":"llama-base"}\n'),
  });
  store.add(LORA, '2.0.0', {
    'adapter_model.safetensors': model([200], 64),
    'adapter_config.json': Buffer.from('{"r":8,"lora_alpha":16,"base_model_name_or_path":"llama-base","v":2}\n'),
  });
  const dir = tempDir('mg-adapter-');
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
  /** A manifest running base@baseVersion and the adapter@version with `range` (relation adapter unless told). */
  const manifest = (
    sequence: number,
    baseVersion: string | undefined,
    adapter: { version: string; range: string; relation?: string; baseModel?: string },
  ) => {
    const { manifest: m } = store.manifest(
      sequence,
      { ...(baseVersion ? { [BASE]: baseVersion } : {}), [LORA]: adapter.version },
      { write: false },
    );
    const b = { model: adapter.baseModel ?? BASE, range: adapter.range, relation: adapter.relation ?? 'adapter' };
    (m.models[LORA]!.versions[adapter.version] as { base?: unknown }).base = b;
    if (baseVersion && b.relation === 'adapter')
      m.environments.production!.models[LORA]!.base = { ...b, version: baseVersion } as never;
    return m;
  };
  return { store, dir, events, sync, manifest };
}

const linkOf = (dir: string, version: string) => readlinkSync(join(dir, 'models', LORA, 'versions', version, 'base'));

describe('adapters on a device', () => {
  it("links the adapter's version folder to its base's version folder, relative, and loads through it", async () => {
    const { dir, sync, manifest, store } = setup();
    const loaded: string[] = [];
    const r = await sync(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0' }), {
      loadHook: (m, v, folder) => {
        // The base is in place before the adapter loads: its weights are readable through the link.
        if (m === LORA) loaded.push(readFileSync(join(folder, 'base', 'config.json'), 'utf8'));
      },
    });
    expect(linkOf(dir, '1.0.0')).toBe('../../../llama-base/versions/1.0.0');
    expect(loaded).toEqual(['{"v":"1.0.0"}\n']);
    const baseWeights = readFileSync(join(dir, 'models', LORA, 'current', 'base', 'model.safetensors'));
    expect(sha256(baseWeights)).toBe(store.versions.get(`${BASE}@1.0.0`)![0]!.sha256);
    expect(r.models.find((m) => m.model === LORA)).toMatchObject({ version: '1.0.0', base: `${BASE}@1.0.0` });
    expect(r.models.map((m) => m.model)).toEqual([BASE, LORA]); // the base first
  });

  it('moves the link when the base moves within range, with a base-linked event, and keeps the old base for gc', async () => {
    const { dir, sync, manifest, events } = setup();
    await sync(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0' }), { keepVersions: 1 });
    events.length = 0;
    const r = await sync(manifest(2, '1.1.0', { version: '1.0.0', range: '^1.0.0' }), { keepVersions: 1 });
    expect(linkOf(dir, '1.0.0')).toBe('../../../llama-base/versions/1.1.0');
    expect(events).toContainEqual({
      type: 'base-linked',
      model: LORA,
      version: '1.0.0',
      base: BASE,
      baseVersion: '1.1.0',
    });
    expect(r.models.find((m) => m.model === LORA)).toMatchObject({ changed: true, base: `${BASE}@1.1.0` });
    // keep 1: the base's 1.0.0 is no longer linked by any kept adapter version, so gc removed it.
    expect(existsSync(join(dir, 'models', BASE, 'versions', '1.0.0'))).toBe(false);
    const again = await sync(manifest(3, '1.1.0', { version: '1.0.0', range: '^1.0.0' }), { keepVersions: 1 });
    expect(again.changed).toBe(false);
  });

  it('never lets gc delete a base version an adapter kept for rollback still links to', async () => {
    const { dir, sync, manifest } = setup();
    await sync(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0' }), { keepVersions: 2 });
    await sync(manifest(2, '2.0.0', { version: '2.0.0', range: '^2.0.0' }), { keepVersions: 2 });
    expect(linkOf(dir, '2.0.0')).toBe('../../../llama-base/versions/2.0.0');
    expect(linkOf(dir, '1.0.0')).toBe('../../../llama-base/versions/1.0.0');
    // The base moves on again; by its own order (keep 2) it would drop 1.0.0, but adapter 1.0.0, kept for
    // rollback, links there.
    await sync(manifest(3, '1.1.0', { version: '2.0.0', range: '>=1.1.0' }), { keepVersions: 2 });
    const versions = (m: string) =>
      ['1.0.0', '1.1.0', '2.0.0'].filter((v) => existsSync(join(dir, 'models', m, 'versions', v)));
    expect(versions(LORA)).toEqual(['1.0.0', '2.0.0']);
    expect(versions(BASE)).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect(existsSync(join(dir, 'models', LORA, 'versions', '1.0.0', 'base', 'model.safetensors'))).toBe(true);
  });

  it('refuses to activate an adapter whose base on this device is outside its range, keeping what ran', async () => {
    const { dir, sync, manifest, events } = setup();
    await sync(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0' }));
    await expect(sync(manifest(2, '2.0.0', { version: '1.0.0', range: '^1.0.0' }))).rejects.toThrow(
      `${LORA}@1.0.0 runs on ${BASE} ^1.0.0, but this device runs ${BASE} 2.0.0; not activating it`,
    );
    expect(events.at(-1)).toMatchObject({ type: 'error', model: LORA });
    // The link was not moved onto a base the adapter does not fit.
    expect(linkOf(dir, '1.0.0')).toBe('../../../llama-base/versions/1.0.0');
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    expect(state.models[LORA].lastError).toContain('not activating it');
  });

  it('refuses an adapter whose base is not in the environment', async () => {
    const { dir, sync, manifest } = setup();
    await expect(sync(manifest(1, undefined, { version: '1.0.0', range: '^1.0.0' }))).rejects.toThrow(
      `${LORA}@1.0.0 runs on ${BASE} ^1.0.0, which is not in production; not activating it`,
    );
    expect(existsSync(join(dir, 'models', LORA, 'current'))).toBe(false);
  });

  it.each([
    [
      'a base range that is not semver',
      { range: 'not a range' },
      'base range "not a range" in the manifest is not a semver range',
    ],
    [
      'a base name that escapes the models folder',
      { range: '^1.0.0', baseModel: '../evil' },
      'unsafe or self-referencing base "../evil"',
    ],
    [
      'the adapter as its own base',
      { range: '^1.0.0', baseModel: LORA },
      'unsafe or self-referencing base "support-lora"',
    ],
  ])('refuses a manifest with %s before fetching anything', async (_what, a, message) => {
    const { dir, sync, manifest } = setup();
    await expect(sync(manifest(1, '1.0.0', { version: '1.0.0', ...a }))).rejects.toThrow(message);
    expect(existsSync(join(dir, 'models', LORA))).toBe(false);
  });

  it('refuses an adapter with a file where the base link goes', async () => {
    const { store, sync, manifest } = setup();
    store.add(LORA, '3.0.0', { 'base/x.json': Buffer.from('{}') });
    await expect(sync(manifest(1, '1.0.0', { version: '3.0.0', range: '^1.0.0' }))).rejects.toThrow(
      `${LORA}@3.0.0 is an adapter, so its folder gets a "base" link to its base, but it has a file base/x.json`,
    );
  });

  it('shows the base an active adapter runs on in status', async () => {
    const { store, manifest } = setup();
    const dir = tempDir('mg-adapter-cli-');
    store.put(
      'manifest.json',
      Buffer.from(JSON.stringify(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0' }))),
    );
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
    const st = JSON.parse((await cli(['status', '--dir', dir, '--json'])).stdout);
    expect(st.models).toEqual([
      expect.objectContaining({ model: BASE, state: 'active', active: '1.0.0', base: null }),
      expect.objectContaining({ model: LORA, state: 'active', active: '1.0.0', base: `${BASE}@1.0.0` }),
    ]);
    expect((await cli(['status', '--dir', dir])).stdout).toMatch(/support-lora\s+1\.0\.0 \(on llama-base@1\.0\.0\)/);
  });

  it('gives merged, quantized and fine-tuned models no link: their weights stand alone', async () => {
    const { dir, sync, manifest } = setup();
    for (const relation of ['merge', 'quantized', 'finetune']) {
      const r = await sync(manifest(1, '1.0.0', { version: '1.0.0', range: '^1.0.0', relation }));
      expect(r.models.find((m) => m.model === LORA)!.base).toBeUndefined();
      expect(existsSync(join(dir, 'models', LORA, 'versions', '1.0.0', 'base'))).toBe(false);
    }
  });
});
