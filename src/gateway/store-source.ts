// Versions fetched from the weight store for a gateway that follows the signed manifest: each file is
// streamed from the store into a private temporary folder while being hashed, checked against the
// sha256 and size the verified manifest vouches for, and the folder is renamed into place only when
// every file matched. A folder in place was verified when written and is never modified afterwards.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createHash } from 'node:crypto';
import type { ManifestVersion } from '../manifest.ts';
import { blobKey } from '../manifest.ts';
import type { BlobStore } from '../store/types.ts';
import type { VersionSource } from './source.ts';

export class StoreVersionSource implements VersionSource {
  readonly store: BlobStore;
  readonly cacheDir: string;
  constructor(store: BlobStore, cacheDir: string) {
    this.store = store;
    this.cacheDir = cacheDir;
  }

  async materialize(model: string, version: string, entry: ManifestVersion): Promise<string> {
    const dir = join(this.cacheDir, model, version);
    if (await this.complete(dir, entry)) return dir;
    const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    try {
      for (const f of entry.files) {
        const target = join(tmp, f.path);
        await mkdir(dirname(target), { recursive: true });
        const hash = createHash('sha256');
        let size = 0;
        const tap = new Transform({ transform(chunk: Buffer, _enc, done) { hash.update(chunk); size += chunk.length; done(null, chunk); } });
        await pipeline(await this.store.get(blobKey(f.sha256)), tap, createWriteStream(target, { flags: 'wx' }));
        const got = hash.digest('hex');
        if (size !== f.size || got !== f.sha256) {
          throw new Error(`${model}@${version}: ${f.path} from ${this.store.url} is ${size} bytes with sha256 ${got}; the manifest vouches for ${f.size} bytes with sha256 ${f.sha256}`);
        }
      }
      await rm(dir, { recursive: true, force: true }); // an incomplete folder left by an older run
      await rename(tmp, dir);
      return dir;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Whether `dir` already holds every file at its recorded size (it was hash-checked when written). */
  private async complete(dir: string, entry: ManifestVersion): Promise<boolean> {
    for (const f of entry.files) {
      const s = await stat(join(dir, f.path)).catch(() => undefined);
      if (!s || s.size !== f.size) return false;
    }
    return true;
  }
}
