// The per-file tensor index, one shape for every format the store indexes (safetensors, GGUF): the file
// as ordered byte regions, each tensor region with its name, type, shape, [start, end) and sha256, the
// rest (the header with its sha256, alignment padding, `zero` when all zeros) as plain regions: a device
// copies an unchanged header, writes zero padding and fetches the others by range. The store
// writes it at push time under indexKey(<file sha256>) (src/store/keys.ts); a device reads it as an
// unsigned hint (src/sync/index-check.ts) and trusts nothing but the whole-file sha256.
//
// Stored shape, version 2 (JSON):
//   { format: 'safetensors' | 'gguf', version: 2, size, sha256,
//     regions: [{ kind: 'header', start: 0, end, sha256 }, { kind: 'padding', start, end, zero? }, ...],
//     tensors: [{ name, dtype, shape, start, end, sha256 }],             // absolute offsets, file order
//     headerSize?, metadata? }                                           // safetensors only, as in version 1
// Sorted together, regions and tensors tile [0, size) exactly; regions[0] is the header, starting at 0.
// Version 1 (written before GGUF was indexed) is `{ format: 'safetensors', headerSize, metadata?, tensors }`:
// a version-2 safetensors index keeps `headerSize` and `tensors`, so devices that only read version 1
// still use it; devices read both.
import { stat } from 'node:fs/promises';
import { UserError } from '../lib/errors.ts';
import { hashFileRanges, sha256Hex } from '../lib/hash.ts';
import { type GgufHeader, parseGguf, readGgufHeader } from './gguf.ts';
import {
  type IndexedTensor,
  parseSafetensors,
  readSafetensorsHeader,
  type SafetensorsHeader,
  type TensorInfo,
} from './safetensors.ts';

export const TENSOR_INDEX_VERSION = 2;

export type IndexFormat = 'safetensors' | 'gguf';
export const INDEX_FORMATS: readonly IndexFormat[] = ['safetensors', 'gguf'];

/** Bytes of a file that belong to no tensor: the header (and GGUF metadata), or alignment padding. */
export interface ByteRegion {
  kind: 'header' | 'padding';
  start: number;
  end: number;
  /** Padding whose bytes are all zero (as gguf.cpp writes it): a device writes zeros instead of fetching. */
  zero?: true;
  /** The header region's sha256: a device that holds the same header bytes copies them. */
  sha256?: string;
}

export interface TensorIndex {
  format: IndexFormat;
  version: typeof TENSOR_INDEX_VERSION;
  size: number;
  /** The whole file's sha256 (the index's own key names it too). */
  sha256: string;
  regions: ByteRegion[];
  tensors: IndexedTensor[];
  /** safetensors: the JSON header length N (tensor bytes start at 8 + N). Kept for version-1 readers. */
  headerSize?: number;
  /** safetensors: the header's __metadata__, when it has one. */
  metadata?: Record<string, string>;
}

/** A file's layout before hashing: its regions and tensors, sorted, tiling [0, size). */
export interface FileLayout {
  format: IndexFormat;
  size: number;
  regions: ByteRegion[];
  tensors: TensorInfo[];
  headerSize?: number;
  metadata?: Record<string, string>;
}

const EXTENSIONS: Readonly<Record<string, IndexFormat>> = { '.safetensors': 'safetensors', '.gguf': 'gguf' };

/** The index format of a file, by its name (what push, publish and the manifest agree on), or undefined. */
export function indexerFor(path: string): IndexFormat | undefined {
  const lower = path.toLowerCase();
  for (const [ext, format] of Object.entries(EXTENSIONS)) if (lower.endsWith(ext)) return format;
  return undefined;
}

export const isIndexable = (path: string): boolean => indexerFor(path) !== undefined;

/** Non-tensor regions for the gaps between sorted, non-overlapping tensors after the header. */
function tile(file: string, headerEnd: number, tensors: TensorInfo[], size: number): ByteRegion[] {
  const regions: ByteRegion[] = [{ kind: 'header', start: 0, end: headerEnd }];
  let at = headerEnd;
  for (const t of tensors) {
    if (t.start < at)
      throw new UserError(
        `${file}: tensor ${JSON.stringify(t.name)} [${t.start}, ${t.end}) overlaps bytes before ${at}`,
      );
    if (t.start > at) regions.push({ kind: 'padding', start: at, end: t.start });
    at = t.end;
  }
  if (at > size) throw new UserError(`${file}: tensors end at ${at}, past the end of the ${size}-byte file`);
  if (at < size) regions.push({ kind: 'padding', start: at, end: size });
  return regions;
}

function safetensorsLayout(file: string, h: SafetensorsHeader, size: number): FileLayout {
  const tensors = [...h.tensors].sort((a, b) => a.start - b.start || a.end - b.end);
  return {
    format: 'safetensors',
    size,
    regions: tile(file, h.dataStart, tensors, size),
    tensors,
    headerSize: h.headerSize,
    ...(Object.keys(h.metadata).length ? { metadata: h.metadata } : {}),
  };
}

function ggufLayout(file: string, h: GgufHeader, size: number): FileLayout {
  const tensors: TensorInfo[] = h.tensors
    .map((t) => ({ name: t.name, dtype: t.typeName, shape: [...t.dims], start: t.offset, end: t.offset + t.size }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  // The header region runs to the data section's (aligned) start: the padding after the tensor infos
  // belongs to the header and is fetched with it.
  return { format: 'gguf', size, regions: tile(file, h.dataStart, tensors, size), tensors };
}

/** Reads only the header of `file` and lays it out as regions and tensors (UserError if it does not parse). */
export async function readLayout(file: string, format: IndexFormat): Promise<FileLayout> {
  const { size } = await stat(file);
  return format === 'safetensors'
    ? safetensorsLayout(file, await readSafetensorsHeader(file), size)
    : ggufLayout(file, await readGgufHeader(file), size);
}

/** The index of a whole file held in memory (the object indexFile gives for the same bytes): tests, small files. */
export function indexBytes(file: string, bytes: Uint8Array, format: IndexFormat): TensorIndex {
  const layout =
    format === 'safetensors'
      ? safetensorsLayout(file, parseSafetensors(file, bytes), bytes.length)
      : ggufLayout(file, parseGguf(bytes, bytes.length, file), bytes.length);
  const regions = layout.regions.map((r, i) =>
    i === 0
      ? { ...r, sha256: sha256Hex(bytes.subarray(r.start, r.end)) }
      : r.kind === 'padding' &&
          r.end - r.start <= MAX_ZERO_CHECK_BYTES &&
          bytes.subarray(r.start, r.end).every((b) => b === 0)
        ? { ...r, zero: true as const }
        : r,
  );
  return toTensorIndex(
    { ...layout, regions },
    sha256Hex(bytes),
    layout.tensors.map((t) => sha256Hex(bytes.subarray(t.start, t.end))),
  );
}

/**
 * The tensor index and the whole-file sha256 of `file`, in one read pass: the header is parsed first
 * (a file that does not parse is refused before any hashing), then hashFileRanges hashes the file and
 * every tensor from the same buffers. Throws UserError when the file is not a valid `format` file or
 * changes while it is read.
 */
export async function indexFile(
  file: string,
  format: IndexFormat,
): Promise<{ sha256: string; size: number; index: TensorIndex }> {
  const layout = await readLayout(file, format);
  // Padding is hashed with the tensors (same pass) to find the all-zero stretches a device need not fetch.
  const padding = layout.regions.filter((r) => r.kind === 'padding' && r.end - r.start <= MAX_ZERO_CHECK_BYTES);
  // The header too: a device holding an identical header (a fine-tune changes tensors, not the
  // metadata) copies it instead of fetching it.
  const header = layout.regions[0]!;
  const ranges = [
    { start: header.start, end: header.end, i: -2 },
    ...layout.tensors.map((t, i) => ({ start: t.start, end: t.end, i })),
    ...padding.map((r) => ({ start: r.start, end: r.end, i: -1 })),
  ].sort((a, b) => a.start - b.start || a.end - b.end);
  const { sha256, size, digests } = await hashFileRanges(file, ranges);
  if (size !== layout.size || digests.some((d) => d === undefined) || (await stat(file)).size !== size)
    throw new UserError(`${file} changed while being indexed; push again once it is stable`);
  const tensorDigests: string[] = [];
  const zeros = new Set<number>();
  let headerSha256 = '';
  ranges.forEach((r, k) => {
    if (r.i >= 0) tensorDigests[r.i] = digests[k]!;
    else if (r.i === -2) headerSha256 = digests[k]!;
    else if (digests[k] === zeroSha256(r.end - r.start)) zeros.add(r.start);
  });
  const regions = layout.regions.map((r, i) =>
    i === 0
      ? { ...r, sha256: headerSha256 }
      : r.kind === 'padding' && zeros.has(r.start)
        ? { ...r, zero: true as const }
        : r,
  );
  return { sha256, size, index: toTensorIndex({ ...layout, regions }, sha256, tensorDigests) };
}

/** Padding longer than this is not checked for zeros (real alignment padding is under 64 bytes). */
const MAX_ZERO_CHECK_BYTES = 1024 * 1024;
const zeroDigests = new Map<number, string>();
const zeroSha256 = (n: number): string => {
  let d = zeroDigests.get(n);
  if (d === undefined) zeroDigests.set(n, (d = sha256Hex(new Uint8Array(n))));
  return d;
};

/** The stored index for a layout, its file's sha256 and the tensors' digests (in layout order). */
export function toTensorIndex(layout: FileLayout, sha256: string, digests: readonly string[]): TensorIndex {
  return {
    format: layout.format,
    version: TENSOR_INDEX_VERSION,
    size: layout.size,
    sha256,
    regions: layout.regions,
    tensors: layout.tensors.map((t, i) => ({ ...t, sha256: digests[i]! })),
    ...(layout.headerSize !== undefined ? { headerSize: layout.headerSize } : {}),
    ...(layout.metadata ? { metadata: layout.metadata } : {}),
  };
}
