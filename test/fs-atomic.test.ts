// src/lib/fs-atomic.ts: the one atomic-write module (store, trust repository, device folder, gateway and
// benchmark state all use it).
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFileExclusive, writeFileAtomic, writeFileAtomicSync } from '../src/lib/fs-atomic.ts';
import { createFileExclusive as trustCreate, writeFileAtomic as trustWrite } from '../src/trust/repository-io.ts';
import { lock } from '../src/sync/local-store.ts';
import { tempDir } from './helpers/files.ts';

describe('fs-atomic', () => {
  it('replaces a file whole, creating its folder, and leaves no temp file behind', async () => {
    const dir = await tempDir('atomic');
    const f = join(dir, 'a', 'b.json');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, new Uint8Array([116, 119, 111]));
    expect(await readFile(f, 'utf8')).toBe('two');
    writeFileAtomicSync(f, 'three');
    expect(await readFile(f, 'utf8')).toBe('three');
    expect(await readdir(join(dir, 'a'))).toEqual(['b.json']);
  });

  it('exclusive create: the first writer wins, the file is never replaced, no temp is left', async () => {
    const dir = await tempDir('excl');
    const f = join(dir, 'x');
    expect(await createFileExclusive(f, 'first')).toBe(true);
    expect(await createFileExclusive(f, 'second')).toBe(false);
    await expect(writeFileAtomic(f, 'third', { exclusive: true })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(f, 'utf8')).toBe('first');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createFileExclusive(join(dir, 'race'), `w${i}`)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await readdir(dir)).sort()).toEqual(['race', 'x']);
  });

  it('the trust repository names keep their behaviour (mode 0644, boolean exclusive create)', async () => {
    const dir = await tempDir('trust-io');
    const f = join(dir, 'metadata', '1.root.json');
    expect(await trustCreate(f, Buffer.from('{}'))).toBe(true);
    expect(await trustCreate(f, Buffer.from('{"x":1}'))).toBe(false);
    await trustWrite(join(dir, 'timestamp.json'), Buffer.from('{}'));
    expect((await stat(f)).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('the device lock is taken exclusively and a stale one (dead pid) is taken over', async () => {
    const dir = await tempDir('lock');
    await writeFile(join(dir, 'lock'), '999999999');
    const release = await lock(dir);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe(String(process.pid));
    await release();
    expect(await readdir(dir)).toEqual([]);
  });
});
