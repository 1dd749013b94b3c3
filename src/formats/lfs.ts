// git-LFS pointer files: the ~130-byte text a clone without `git lfs pull` leaves where the weights
// should be. Spec (git-lfs docs/spec.md): a UTF-8 text file under 1024 bytes whose first line is
// `version https://git-lfs.github.com/spec/v1` (pre-1.0 pointers said `https://hawser.github.com/spec/v1`),
// then `oid sha256:<64 hex>` and `size <bytes>` lines. Any model format's reader asks this first.
import { UserError } from '../lib/errors.ts';
import { formatBytes } from '../lib/format.ts';

/** The spec caps a pointer file at this size. */
export const LFS_POINTER_MAX_BYTES = 1024;

const PREFIXES = ['version https://git-lfs.github.com/spec/v1', 'version https://hawser.github.com/spec/v1'].map((p) =>
  Buffer.from(p, 'latin1'),
);

/** Whether these bytes (a whole file, or at least its first 64 bytes) start like a git-LFS pointer. */
export function isLfsPointer(bytes: Uint8Array): boolean {
  return PREFIXES.some((p) => bytes.length >= p.length && p.every((b, i) => bytes[i] === b));
}

export interface LfsPointer {
  oid?: string;
  size?: number;
}

/** The object a pointer names (what it can read of it; a damaged pointer gives fewer fields). */
export function readLfsPointer(bytes: Uint8Array): LfsPointer {
  const text = Buffer.from(bytes.subarray(0, LFS_POINTER_MAX_BYTES)).toString('utf8');
  const oid = /^oid (sha256:[0-9a-f]{64})$/m.exec(text)?.[1];
  const size = /^size (\d{1,16})$/m.exec(text)?.[1];
  return { ...(oid ? { oid } : {}), ...(size ? { size: Number(size) } : {}) };
}

/** The refusal for a pointer where a model file should be, naming the file and the object it points to. */
export function lfsPointerError(source: string, bytes: Uint8Array): UserError {
  const p = readLfsPointer(bytes);
  const what = [p.oid ? `oid ${p.oid.slice(0, 19)}…` : '', p.size !== undefined ? formatBytes(p.size) : '']
    .filter(Boolean)
    .join(', ');
  return new UserError(
    `${source}: is a git-LFS pointer${what ? ` (${what})` : ''}, not the weights: run \`git lfs pull\` in the repository it came from`,
  );
}
