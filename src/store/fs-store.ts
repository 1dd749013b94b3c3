// BlobStore on a local folder, with the same keys as the S3 layout. The embedded default: needs nothing installed.
// Writes are atomic (temp file in <root>/.tmp, fsync, rename or link); a blob is never replaced.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { commitTemp, writeFileAtomic } from '../lib/fs-atomic.ts';
import { HASH_BUFFER_BYTES } from '../lib/hash.ts';
import { UserError } from '../lib/errors.ts';
import { STORE_DEFAULTS } from './defaults.ts';
import { sha256OfBlobKey, validateKey, validatePrefix } from './keys.ts';
import { AlreadyExistsError, changedWhilePushing, hashedSha256 } from './types.ts';
import { NotFoundError } from '../lib/errors.ts';
import type { BlobStore, ByteRange, ObjectInfo, PutFileOptions, PutFileResult, PutObjectOptions } from './types.ts';

const TMP = '.tmp';

function isErrno(e: unknown, code: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === code;
}

export function folderPathFromUrl(url: string): string {
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  return resolve(path);
}

export class FolderStore implements BlobStore {
  readonly url: string;
  readonly root: string;

  constructor(urlOrPath: string) {
    this.root = folderPathFromUrl(urlOrPath);
    this.url = `file://${this.root}`;
  }

  /**
   * Map a key to a path inside the root. Keys are validated, and the deepest existing folder on the
   * way must really be inside the real root before anything is created: a symbolic link inside the
   * store cannot lead a write (not even a mkdir) outside it.
   */
  private async pathFor(key: string, forWrite: boolean): Promise<string> {
    validateKey(key);
    const p = join(this.root, ...key.split('/'));
    const rel = relative(this.root, p);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new UserError(`store key "${key}" resolves outside ${this.root}`);
    if (forWrite) await mkdir(this.root, { recursive: true });
    const realRoot = await realpath(this.root).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT')) return undefined; // no store folder yet: nothing to read
      throw e;
    });
    if (realRoot === undefined) return p;
    const inside = (real: string) => real === realRoot || real.startsWith(realRoot + sep);
    let existing = dirname(p);
    let real: string | undefined;
    while (real === undefined) {
      try {
        real = await realpath(existing);
      } catch (e) {
        if (!isErrno(e, 'ENOENT') || existing === this.root) throw e;
        existing = dirname(existing);
      }
    }
    const escape = () =>
      new UserError(`store key "${key}" leads outside the store folder ${this.root} (through a symbolic link)`);
    if (!inside(real)) throw escape();
    if (forWrite && existing !== dirname(p)) {
      await mkdir(dirname(p), { recursive: true });
      if (!inside(await realpath(dirname(p)))) throw escape(); // a link swapped in meanwhile
    }
    return p;
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.root, TMP);
    await mkdir(dir, { recursive: true });
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const p = await this.pathFor(key, false);
    try {
      const st = await stat(p);
      if (!st.isFile()) return undefined;
      const info: ObjectInfo = { key, size: st.size, lastModified: st.mtime };
      // A blob is written only after its bytes hashed to its name (putFile), so the name is its recorded sha256.
      const sha = sha256OfBlobKey(key);
      if (sha) info.sha256 = sha;
      return info;
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return undefined;
      throw e;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const p = await this.pathFor(key, false);
    const fh = await open(p, 'r').catch((e: unknown) => {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') || isErrno(e, 'EISDIR')) throw new NotFoundError(this.url, key);
      throw e;
    });
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) {
      await fh.close();
      return Readable.from([]);
    }
    return createReadStream('', {
      fd: fh,
      start,
      ...(end === undefined ? {} : { end: end - 1 }),
      highWaterMark: STORE_DEFAULTS.folderReadBytes,
    });
  }

  async getBytes(key: string): Promise<Buffer> {
    const p = await this.pathFor(key, false);
    try {
      return await readFile(p);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') || isErrno(e, 'EISDIR')) throw new NotFoundError(this.url, key);
      throw e;
    }
  }

  async putObject(key: string, body: string | Uint8Array, options: PutObjectOptions = {}): Promise<void> {
    const p = await this.pathFor(key, true);
    try {
      await writeFileAtomic(p, body, { exclusive: options.exclusive ?? false, tempPath: await this.tempPath() });
    } catch (e) {
      if (isErrno(e, 'EEXIST')) throw new AlreadyExistsError(this.url, key);
      throw e;
    }
  }

  /**
   * Copy the file to a temp file while hashing it (one pass), fsync, then link into place only if the hash
   * matches. With `hashedAs` (the caller hashed these bytes just now) the copy does not hash them again:
   * it checks the size and that the file's identity is unchanged instead.
   */
  async putFile(key: string, file: string, options: PutFileOptions): Promise<PutFileResult> {
    const p = await this.pathFor(key, true);
    if (await this.exists(key)) return { sentBytes: 0, resumedParts: 0, resumedBytes: 0, existed: true };
    const tmp = await this.tempPath();
    const src = await open(file, 'r');
    const dst = await open(tmp, 'wx');
    let size = 0;
    let sha256: string;
    try {
      const buf = Buffer.allocUnsafe(HASH_BUFFER_BYTES);
      const h = options.hashedAs ? undefined : createHash('sha256');
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, size);
        if (bytesRead === 0) break;
        h?.update(buf.subarray(0, bytesRead));
        await dst.write(buf, 0, bytesRead, size);
        size += bytesRead;
        options.onProgress?.({
          kind: 'part',
          key,
          partNumber: 1,
          bytes: bytesRead,
          sentBytes: size,
          totalBytes: options.size,
        });
      }
      sha256 = h ? h.digest('hex') : await hashedSha256(file, options);
      await dst.sync();
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    } finally {
      await src.close();
      await dst.close();
    }
    if (sha256 !== options.sha256 || size !== options.size) {
      await unlink(tmp).catch(() => {});
      throw changedWhilePushing(file, options.sha256, sha256);
    }
    try {
      await commitTemp(tmp, p, true);
    } catch (e) {
      if (isErrno(e, 'EEXIST')) return { sentBytes: size, resumedParts: 0, resumedBytes: 0, existed: true };
      throw e;
    }
    return { sentBytes: size, resumedParts: 0, resumedBytes: 0, existed: false };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    // Walk from the deepest folder the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    const keys: string[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dirKey ? join(this.root, ...dirKey.split('/')) : this.root, { withFileTypes: true });
      } catch (e) {
        if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) return;
        throw e;
      }
      for (const ent of entries) {
        if (!dirKey && ent.name.startsWith(TMP)) continue;
        const k = dirKey ? `${dirKey}/${ent.name}` : ent.name;
        if (ent.isDirectory()) {
          if (k.startsWith(prefix) || prefix.startsWith(k + '/')) await walk(k);
        } else if (ent.isFile() && k.startsWith(prefix)) {
          keys.push(k);
        }
      }
    };
    await walk(base);
    keys.sort();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  async delete(key: string): Promise<void> {
    const p = await this.pathFor(key, false);
    await unlink(p).catch((e: unknown) => {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'ENOTDIR')) throw e;
    });
  }
}
