// Crash-safe file writes, the one implementation (store, trust repository, device folder, gateway
// and benchmark state): a reader sees the old content or the new, never a torn file, and an exclusive
// create either publishes a complete file or nothing.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A unique temp path beside `target` (same folder, so the final rename stays on one filesystem). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Errors meaning "this platform/filesystem cannot fsync a folder" (Windows, some FUSE mounts). */
const NO_DIR_SYNC = new Set(['EISDIR', 'EINVAL', 'ENOTSUP']);

/**
 * fsync a folder so a rename or link inside it survives a power loss. Where the platform cannot
 * fsync folders the rename is still atomic, so that is not an error; a real I/O error is.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}

/**
 * Flush a file's data to the disk before it is renamed into place: without it a power cut can leave
 * the new name pointing at a file of the right size whose blocks were never written.
 */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r'); // read-only is enough for fdatasync on Linux, and works on a 0444 file
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export interface WriteAtomicOptions {
  /** Publish with link(2) instead of rename: fails with EEXIST if `target` exists (first writer wins). */
  exclusive?: boolean;
  /** Where to write the temp file (default: tempPathFor(target)); must be on target's filesystem. */
  tempPath?: string;
  /** File mode of the new file (before umask). */
  mode?: number;
}

/** Write `data` to `target` atomically: temp file + fsync + rename (or link when `exclusive`) + folder fsync. */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: WriteAtomicOptions = {},
): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = options.tempPath ?? tempPathFor(target);
  const fh = await open(tmp, 'wx', options.mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await commitTemp(tmp, target, options.exclusive ?? false);
}

/** Create `target` with `data` only if it does not exist: true if created, false if it already existed. */
export async function createFileExclusive(
  target: string,
  data: string | Uint8Array,
  options: Omit<WriteAtomicOptions, 'exclusive'> = {},
): Promise<boolean> {
  try {
    await writeFileAtomic(target, data, { ...options, exclusive: true });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Move a fully written, fsynced temp file into place (see writeFileAtomic). */
export async function commitTemp(tmp: string, target: string, exclusive: boolean): Promise<void> {
  try {
    if (exclusive) {
      await link(tmp, target);
      await unlink(tmp);
    } else {
      await rename(tmp, target);
    }
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dirname(target));
}

/** writeFileAtomic for synchronous callers (state saved from a synchronous code path). */
export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fd = openSync(tmp, 'wx');
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, target);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  try {
    const dfd = openSync(dirname(target), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (e) {
    if (!NO_DIR_SYNC.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
}
