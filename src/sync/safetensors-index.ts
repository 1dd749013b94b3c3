// Safetensors index objects as a device sees them (`indexes/sha256/<file sha256>.json`). The format
// and the parser are src/formats/safetensors.ts's (the store writes the index at push time); a device reads
// the index as a hint only (it is not signed) and trusts nothing but the whole-file sha256.
import type { SafetensorsIndex } from '../formats/safetensors.ts';

export type { SafetensorsIndex } from '../formats/safetensors.ts';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks an index object's shape against the file it claims to describe. A bad index is not an
 * attack we must report, only a hint we cannot use: returns undefined, and the caller downloads whole.
 * `headerSize` is the JSON header length N, so tensor bytes lie in [8 + N, fileSize).
 */
export function validIndex(value: unknown, fileSize: number): SafetensorsIndex | undefined {
  const v = value as SafetensorsIndex;
  if (
    !v ||
    typeof v !== 'object' ||
    v.format !== 'safetensors' ||
    !Number.isSafeInteger(v.headerSize) ||
    v.headerSize < 2 ||
    8 + v.headerSize > fileSize ||
    !Array.isArray(v.tensors)
  )
    return undefined;
  let at = dataStart(v);
  const tensors = [...v.tensors].sort((a, b) => a.start - b.start);
  for (const t of tensors) {
    if (
      !t ||
      !Number.isSafeInteger(t.start) ||
      !Number.isSafeInteger(t.end) ||
      typeof t.sha256 !== 'string' ||
      !HEX64.test(t.sha256)
    )
      return undefined;
    if (t.start < at || t.end < t.start || t.end > fileSize) return undefined; // overlap or outside the file
    at = t.end;
  }
  return { format: 'safetensors', headerSize: v.headerSize, tensors };
}

/** Where the data section starts: the 8-byte length field plus the JSON header. */
export const dataStart = (index: Pick<SafetensorsIndex, 'headerSize'>): number => 8 + index.headerSize;
