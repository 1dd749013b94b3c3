// Crash-safe file writes: a reader sees the old content or the new, never a torn file.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** A unique temp path beside `target` (same folder, so the final rename stays on one filesystem). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** fsync a folder so a rename or link inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Write `data` to `target` atomically: temp file + fsync + rename (or link when `exclusive`,
 * which fails with EEXIST if `target` exists, so the first writer wins and nothing is replaced).
 */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  options: { exclusive?: boolean; tempPath?: string } = {},
): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const tmp = options.tempPath ?? tempPathFor(target);
  const fh = await open(tmp, 'wx');
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
