// Safetensors index objects (`indexes/sha256/<file sha256>.json`): where each tensor lies in the file
// (absolute byte offsets) and the sha256 of its bytes. The store writes them at push time; a device
// reads them as hints only (they are not signed) and trusts nothing but the whole-file sha256.
import { createHash } from 'node:crypto';

export interface TensorEntry { name: string; dtype: string; shape: number[]; start: number; end: number; sha256: string }
export interface SafetensorsIndex { format: 'safetensors'; headerSize: number; tensors: TensorEntry[] }

/** The largest header we accept: the reference implementation caps it at 100 MB. */
const MAX_HEADER = 100_000_000;

/** Parses the 8-byte length + JSON header; returns the header size and the tensors in file order. */
export function parseSafetensorsHeader(prefix: Buffer): { headerSize: number; tensors: Omit<TensorEntry, 'sha256'>[] } {
  if (prefix.length < 8) throw new Error('safetensors: file shorter than its 8-byte header length');
  const n = Number(prefix.readBigUInt64LE(0));
  if (n > MAX_HEADER) throw new Error(`safetensors: header length ${n} is implausible`);
  if (prefix.length < 8 + n) throw new Error(`safetensors: need ${8 + n} bytes of header, have ${prefix.length}`);
  const header = JSON.parse(prefix.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const headerSize = 8 + n;
  const tensors = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, start: headerSize + t.data_offsets[0], end: headerSize + t.data_offsets[1] }))
    .sort((a, b) => a.start - b.start);
  return { headerSize, tensors };
}

/** The index object for a safetensors file held in memory. */
export function buildSafetensorsIndex(file: Buffer): SafetensorsIndex {
  const { headerSize, tensors } = parseSafetensorsHeader(file);
  return {
    format: 'safetensors',
    headerSize,
    tensors: tensors.map((t) => {
      if (t.end > file.length || t.start > t.end) throw new Error(`safetensors: tensor ${t.name} lies outside the file`);
      return { ...t, sha256: createHash('sha256').update(file.subarray(t.start, t.end)).digest('hex') };
    }),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks an index object's shape against the file it claims to describe. A bad index is not an
 * attack we must report, only a hint we cannot use: returns undefined, and the caller downloads whole.
 */
export function validIndex(value: unknown, fileSize: number): SafetensorsIndex | undefined {
  const v = value as SafetensorsIndex;
  if (!v || typeof v !== 'object' || v.format !== 'safetensors' || !Number.isSafeInteger(v.headerSize) || v.headerSize < 8 || v.headerSize > fileSize || !Array.isArray(v.tensors)) return undefined;
  let at = v.headerSize;
  const tensors = [...v.tensors].sort((a, b) => a.start - b.start);
  for (const t of tensors) {
    if (!t || !Number.isSafeInteger(t.start) || !Number.isSafeInteger(t.end) || typeof t.sha256 !== 'string' || !HEX64.test(t.sha256)) return undefined;
    if (t.start < at || t.end < t.start || t.end > fileSize) return undefined; // overlap or outside the file
    at = t.end;
  }
  return { format: 'safetensors', headerSize: v.headerSize, tensors };
}
