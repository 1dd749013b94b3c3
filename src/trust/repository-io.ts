// Where the TUF repository lives. The publisher and the folder client only need three operations on
// a flat key space (keys are POSIX-style paths relative to the store root, e.g.
// `metadata/timestamp.json`), so any object store can carry it. `putIfAbsent` is what lets two
// publishers race without both claiming the same version: exactly one of them sees `true`.
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { UserError } from '../lib/errors.ts';
import {
  createFileExclusive as createFileExclusiveImpl,
  writeFileAtomic as writeFileAtomicImpl,
} from '../lib/fs-atomic.ts';

export interface TrustStoreIO {
  /** The bytes stored under `key`, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** Store `bytes` under `key`, replacing what was there; readers see the old or the new bytes, never a mix. */
  put(key: string, bytes: Buffer): Promise<void>;
  /** Store `bytes` under `key` only if nothing is there yet. Returns false (and changes nothing) if it already existed. */
  putIfAbsent(key: string, bytes: Buffer): Promise<boolean>;
}

/** Store keys are relative POSIX paths made of plain segments: no `..`, no `.`, no empty segment, no backslash. */
export function checkStoreKey(key: string): void {
  const ok =
    key.length > 0 &&
    key.length <= 1024 &&
    !key.startsWith('/') &&
    !key.includes('\\') &&
    !key.includes('\0') &&
    key.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok)
    throw new UserError(
      `invalid store key ${JSON.stringify(key)}: keys are relative paths without "..", "." or empty segments`,
    );
}

// Atomic replace and exclusive create are src/lib/fs-atomic.ts's; re-exported under the names trust
// code has always imported from here. Files are created 0644 (metadata is public).
const MODE = 0o644;

/** Replace `path` with `bytes` atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export async function writeFileAtomic(path: string, bytes: Buffer): Promise<void> {
  await writeFileAtomicImpl(path, bytes, { mode: MODE });
}

/** Create `path` with `bytes` only if it does not exist; the file appears complete or not at all. */
export async function createFileExclusive(path: string, bytes: Buffer): Promise<boolean> {
  return createFileExclusiveImpl(path, bytes, { mode: MODE });
}

/** A TrustStoreIO over a local folder. Writes are atomic and durable; keys cannot escape the folder. */
export class FolderTrustStore implements TrustStoreIO {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  /** The absolute path of `key`, refusing keys that would leave the root. */
  pathOf(key: string): string {
    checkStoreKey(key);
    const p = resolve(this.root, ...key.split('/'));
    if (!p.startsWith(this.root + sep))
      throw new UserError(`invalid store key ${JSON.stringify(key)}: it leaves the store folder`);
    return p;
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  async put(key: string, bytes: Buffer): Promise<void> {
    await writeFileAtomic(this.pathOf(key), bytes);
  }

  async putIfAbsent(key: string, bytes: Buffer): Promise<boolean> {
    return createFileExclusive(this.pathOf(key), bytes);
  }
}
