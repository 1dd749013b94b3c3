import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/store/fs-store.ts';
import { blobKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { randomFile, tempDir } from '../helpers/files.ts';
import { storeContract } from './contract.ts';
import { createHash } from 'node:crypto';

storeContract('folder', async () => {
  const root = await tempDir('folder-store');
  return {
    store: openStore(pathToFileURL(root).href),
    tamper: (key, data) => writeFile(join(root, ...key.split('/')), data),
  };
});

describe('folder store specifics', () => {
  let root: string;
  let outside: string;
  let store: FolderStore;
  beforeAll(async () => {
    root = await tempDir('fs-root');
    outside = await tempDir('fs-outside');
    store = new FolderStore(root);
  });

  it('never writes through a symbolic link that leaves the root', async () => {
    await symlink(outside, join(root, 'reports'));
    await expect(store.putObject('reports/x.json', 'x')).rejects.toThrow(/leads outside the store folder/);
    await expect(store.putObject('reports/m/1.0.0/x.json', 'x')).rejects.toThrow(/leads outside the store folder/);
    await expect(store.getBytes('reports/x.json')).rejects.toThrow(/leads outside the store folder/);
    expect(await readdir(outside)).toEqual([]);
  });

  it('leaves no temp files behind and keeps them out of listings', async () => {
    await store.putObject('manifest.json', 'a');
    await store.putObject('manifest.json', 'b');
    await expect(store.putObject('manifest.json', 'c', { exclusive: true })).rejects.toThrow(/already exists/);
    expect(await readdir(join(root, '.tmp'))).toEqual([]);
    const keys = [];
    for await (const o of store.list('')) keys.push(o.key);
    expect(keys).toEqual(['manifest.json']);
  });

  it('putFile refuses a file whose bytes do not match the given sha256 and stores nothing', async () => {
    const dir = await tempDir('fs-mismatch');
    const data = await randomFile(join(dir, 'f.bin'), 500);
    const claimed = createHash('sha256').update('something else').digest('hex');
    await expect(
      store.putFile(blobKey(claimed), join(dir, 'f.bin'), { sha256: claimed, size: data.length }),
    ).rejects.toThrow(/changed while it was being pushed/);
    expect(await store.exists(blobKey(claimed))).toBe(false);
  });

  it('never replaces an existing blob', async () => {
    const dir = await tempDir('fs-never');
    const data = await randomFile(join(dir, 'f.bin'), 100);
    const sha256 = createHash('sha256').update(data).digest('hex');
    await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(root, 'blobs', 'sha256', sha256), 'planted');
    const r = await store.putFile(blobKey(sha256), join(dir, 'f.bin'), { sha256, size: data.length });
    expect(r).toMatchObject({ existed: true, sentBytes: 0 });
    expect(await readFile(join(root, 'blobs', 'sha256', sha256), 'utf8')).toBe('planted');
  });
});
