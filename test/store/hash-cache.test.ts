import { readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileIdentity, HashCache } from '../../src/store/hash-cache.ts';
import { hashFile } from '../../src/lib/hash.ts';
import { tempDir } from '../helpers/files.ts';

describe('hash cache', () => {
  it('hits only while size, mtime and inode are unchanged, and persists atomically', async () => {
    const dir = await tempDir('hc');
    const f = join(dir, 'w.bin');
    await writeFile(f, 'aaaa');
    await utimes(f, 1_700_000_000, 1_700_000_000); // whole seconds: reproducible on the replacement below
    const cache = await HashCache.load(join(dir, 'state'));
    const id = await fileIdentity(f);
    cache.record(f, id, (await hashFile(f)).sha256);
    await cache.save();

    const reloaded = await HashCache.load(join(dir, 'state'));
    expect(reloaded.lookup(f, await fileIdentity(f))).toBe((await hashFile(f)).sha256);

    // Same size and mtime but a new inode (replaced by rename): a miss.
    await writeFile(join(dir, 'new'), 'bbbb');
    await utimes(join(dir, 'new'), 1_700_000_000, 1_700_000_000);
    await rename(join(dir, 'new'), f);
    const after = await fileIdentity(f);
    expect(after.size).toBe(id.size);
    expect(after.mtimeNs).toBe(id.mtimeNs);
    expect(reloaded.lookup(f, after)).toBeUndefined();

    // Rewritten in place with a new mtime: a miss.
    await writeFile(f, 'cccc');
    expect(reloaded.lookup(f, { ...(await fileIdentity(f)), ino: id.ino })).toBeUndefined();

    const saved = JSON.parse(await readFile(join(dir, 'state', 'hash-cache.json'), 'utf8'));
    expect(saved.version).toBe(1);
    expect(Object.keys(saved.entries)).toEqual([f]);
  });

  it('a corrupt cache file is ignored, not fatal', async () => {
    const dir = await tempDir('hc-bad');
    await writeFile(join(dir, 'hash-cache.json'), '{not json');
    const cache = await HashCache.load(dir);
    expect(cache.lookup(join(dir, 'x'), { size: 0, mtimeNs: '0', ino: '0', dev: '0' })).toBeUndefined();
  });
});
