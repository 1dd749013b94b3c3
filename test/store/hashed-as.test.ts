// putFile with `hashedAs`: the caller hashed the file just now, so the store does not hash it again; it
// refuses the upload instead when the file's identity (size, mtime, inode) changed since. Folder store
// and real radosgw S3 (single-part and multipart).
import { createHash } from 'node:crypto';
import { rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileIdentity } from '../../src/store/hash-cache.ts';
import { blobKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import type { BlobStore } from '../../src/store/types.ts';
import { randomFile, tempDir } from '../helpers/files.ts';
import { createBucket, removeBucket } from '../helpers/s3.ts';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('hashed-as');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

const stores: [string, () => Promise<BlobStore>][] = [
  ['folder', async () => openStore(await tempDir('hashed-as-store'))],
  [
    's3',
    async () =>
      openStore(`s3://${bucket}/h${Date.now()}`, { s3: { partSize: 5 * MiB, stateDir: await tempDir('s3-state') } }),
  ],
];

describe.each(stores)('%s store putFile with hashedAs', (_, open) => {
  for (const size of [1000, 11 * MiB]) {
    it(`${size} bytes: trusts the caller's sha256 while the file is unchanged, refuses once it changed`, async () => {
      const store = await open();
      const dir = await tempDir('hashed-as');
      const file = join(dir, 'w.bin');
      const bytes = await randomFile(file, size);
      const hashedAs = await fileIdentity(file);
      const key = blobKey(sha(bytes));
      const r = await store.putFile(key, file, { sha256: sha(bytes), size, hashedAs });
      expect(r).toMatchObject({ existed: false, sentBytes: size });
      expect((await store.getBytes(key)).equals(bytes)).toBe(true);

      // Rewritten in place with other bytes of the same size: mtime moves, so the identity no longer matches.
      const other = join(dir, 'x.bin');
      const changed = await randomFile(other, size);
      const before = await fileIdentity(other);
      await utimes(other, new Date(), new Date(Date.now() + 5_000));
      const key2 = blobKey(sha(changed));
      await expect(store.putFile(key2, other, { sha256: sha(changed), size, hashedAs: before })).rejects.toThrow(
        /x\.bin changed while it was being pushed: its bytes now hash to unknown \(its size, mtime or inode changed/,
      );
      expect(await store.exists(key2)).toBe(false);

      // Replaced by rename (a new inode) after hashing: refused too.
      const third = join(dir, 'y.bin');
      const y = await randomFile(third, size);
      const yId = await fileIdentity(third);
      await writeFile(join(dir, 'y.tmp'), y);
      await rename(join(dir, 'y.tmp'), third);
      await expect(store.putFile(blobKey(sha(y)), third, { sha256: sha(y), size, hashedAs: yId })).rejects.toThrow(
        /y\.bin changed while it was being pushed/,
      );
    });
  }
});
