// GGUF: a strict header parser (v2 and v3, little-endian) and the facts a model card takes from it.
// Format: ggml docs/gguf.md; the checks follow llama.cpp's loader (ggml/src/gguf.cpp) and add bounds on
// every length before it is used. Why not @huggingface/gguf: it is built for ranged fetches and is
// lenient (v1 accepted, lengths trusted, non-fatal UTF-8, no alignment/offset/size/overlap checks, a plain
// object for metadata), and the store needs a refusal naming the field and offset for any bad file.
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { UserError } from '../lib/errors.ts';
import { formatBytes } from '../lib/format.ts';
import {
  GGML_TYPE_COUNT,
  type GgmlType,
  ggmlTensorBytes,
  ggmlTypeById,
  LLAMA_FILE_TYPES,
  REMOVED_GGML_TYPES,
} from './ggml-types.ts';
import { isLfsPointer, lfsPointerError } from './lfs.ts';
import { quoteBounded } from './safetensors.ts';

export const GGUF_VALUE_TYPES = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'bool',
  'string',
  'array',
  'uint64',
  'int64',
  'float64',
] as const;

/** A metadata value type by its GGUF name; its index in GGUF_VALUE_TYPES is its id in the file. */
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigType = 'uint64' | 'int64';

/** An array value: its item type, and the items (a nested array's items are GgufArray values). */
export interface GgufArray {
  type: 'array';
  itemType: GgufValueType;
  value: number[] | bigint[] | boolean[] | string[] | GgufArray[];
}

/** A metadata value with its GGUF type (64-bit integers as bigint, so no value is rounded). */
export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArray;

/** One metadata entry as written in the file. */
export type GgufMetadataEntry = { key: string } & GgufValue;

// What is checked, against llama.cpp's reader (ggml/src/gguf.cpp `gguf_init_from_file_impl`, ggml-org/ggml at
// d99724f2): magic, version 2 or 3 (a byte-swapped version is named big-endian), keys non-empty and unique,
// `general.alignment` a uint32 power of two, tensor names unique and under GGML_MAX_NAME bytes, at most
// GGML_MAX_DIMS dims, known ggml types, ne0 a multiple of the block size, and each tensor's offset exactly
// the previous one's end padded to the alignment ("tensor '%s' has offset %d, expected %zu").
// Added here: every count and length is checked against the bytes left before anything is allocated; all
// strings valid UTF-8; bools 0 or 1; sizes in BigInt and within the file; no data past the last tensor's
// padding (tolerance: alignment - 1 bytes, what gguf.cpp's writer pads; with no tensors, the header's
// padding). Stricter than llama.cpp: at least one dim and every dim >= 1 (ggml reads 0-element tensors).
// More lenient: arrays of arrays (the spec allows them; gguf.cpp refuses them), at most 8 deep.

/** Options of the parser; the limits bound memory before anything is allocated. */
export interface GgufParseOptions {
  /** Refuse headers (magic to the end of the tensor infos) larger than this. */
  maxHeaderBytes?: number;
  /** Refuse more metadata array items than this, all arrays together (each item is a JS value in memory). */
  maxArrayItems?: number;
}

/** A header larger than this is refused: a hostile length field must not make us read or allocate gigabytes. */
export const MAX_GGUF_HEADER_BYTES = 64 * 1024 * 1024;
/** Metadata array items, all arrays together: real vocabularies hold well under a million (tokens, scores, merges). */
export const MAX_GGUF_ARRAY_ITEMS = 8 * 1024 * 1024;
/** Arrays of arrays, at most this deep (llama.cpp reads none; the spec allows them). */
export const MAX_GGUF_ARRAY_NESTING = 8;
/** Metadata entries and tensors, at most: far above any real model (tens of keys, tens of thousands of tensors). */
export const MAX_GGUF_METADATA_ENTRIES = 65_536;
export const MAX_GGUF_TENSORS = 1_048_576;
/** `general.alignment` when the file does not state one. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGML_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: a tensor name is at most this minus one bytes (the C string's NUL). */
export const GGML_MAX_NAME = 64;

export interface GgufTensor {
  name: string;
  /** The ggml type id, and its name ('Q4_K'). */
  type: number;
  typeName: string;
  /** ggml order: ne0 (the contiguous dimension) first. */
  dims: number[];
  /** Elements (the product of dims). */
  elements: number;
  /** Absolute byte offset of the data in the file, and its size in bytes (without padding). */
  offset: number;
  size: number;
}

export interface GgufHeader {
  version: 2 | 3;
  alignment: number;
  /** Keys in file order; a Map, so no key can be an inherited property. */
  metadata: Map<string, GgufValue>;
  /** In file order, which is also offset order (the parser checks it). */
  tensors: GgufTensor[];
  /** Where the data section starts (the end of the header, padded to the alignment; with no tensors it may
   * lie past the end of the file, as nothing is read there). */
  dataStart: number;
  /** The header's bytes: magic to the end of the tensor infos, without the padding. */
  headerBytes: number;
  fileSize: number;
}

/** Whether a path names a GGUF file (by its extension, as llama.cpp and the Hub do). */
export const isGguf = (path: string): boolean => /\.gguf$/i.test(path);

/** The header ran past the bytes given but not past the file: read more (readGgufHeader) or refuse. */
class NeedMore {
  readonly end: number;
  constructor(end: number) {
    this.end = end;
  }
}

const HEADER_MIN = 24; // magic, version, two u64 counts
/** The pre-GGUF formats' magics as their files start (little-endian u32s of 'ggml', 'ggmf', 'ggjt'). */
const LEGACY_MAGICS: ReadonlyMap<string, string> = new Map([
  ['lmgg', 'GGML'],
  ['fmgg', 'GGMF'],
  ['tjgg', 'GGJT'],
]);
/** Fewest bytes of one metadata entry: key length, a key of one byte, value type, a one-byte value. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
/** Fewest bytes of one tensor info: name length, a one-byte name, n_dims, one dim, type, offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8;
/** Bytes of one item of the fixed-width types. */
const FIXED_WIDTHS = {
  uint8: 1,
  int8: 1,
  bool: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
} as const satisfies Record<Exclude<GgufValueType, 'string' | 'array'>, number>;
const FIXED_WIDTH: Partial<Record<GgufValueType, number>> = FIXED_WIDTHS;
/** Fewest bytes of one item of each value type (a string: its length; an array: item type and length). */
const MIN_ITEM_BYTES: Readonly<Record<GgufValueType, number>> = { ...FIXED_WIDTHS, string: 8, array: 12 };
/** Little-endian readers of the numeric types, for arrays. */
const NUMBER_READERS: Partial<Record<GgufValueType, (v: DataView, at: number) => number | bigint>> = {
  uint8: (v, at) => v.getUint8(at),
  int8: (v, at) => v.getInt8(at),
  uint16: (v, at) => v.getUint16(at, true),
  int16: (v, at) => v.getInt16(at, true),
  uint32: (v, at) => v.getUint32(at, true),
  int32: (v, at) => v.getInt32(at, true),
  float32: (v, at) => v.getFloat32(at, true),
  uint64: (v, at) => v.getBigUint64(at, true),
  int64: (v, at) => v.getBigInt64(at, true),
  float64: (v, at) => v.getFloat64(at, true),
};
/** What a read is, for an error: a field's name, or (a number) the index of an array item. */
type What = string | number;
const label = (what: What, part = ''): string => (typeof what === 'number' ? `item ${what}` : what) + part;
const hex = (b: Uint8Array): string =>
  Buffer.from(b)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
/** A string from the file, quoted and cut for an error message. */
const q = (s: string): string => quoteBounded(s);

/** Sequential little-endian reads over the bytes given, bounded by the file, the header limit and the buffer. */
class Cursor {
  pos = 0;
  /** What is being read, for errors: `metadata key #3 "general.name"`. */
  where = 'header';
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly buf: Buffer;
  readonly fileSize: number;
  readonly limit: number;
  readonly fail: (why: string) => never;
  constructor(bytes: Uint8Array, fileSize: number, maxHeaderBytes: number, fail: (why: string) => never) {
    this.bytes = bytes;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.fileSize = fileSize;
    this.limit = maxHeaderBytes;
    this.fail = fail;
  }
  get remaining(): number {
    return this.fileSize - this.pos;
  }
  /** n more bytes must exist: in the file (else truncated), under the limit, and in the buffer (else NeedMore). */
  need(n: number, what: What, part = ''): void {
    const end = this.pos + n;
    if (end > this.fileSize)
      this.fail(
        `truncated: ${this.where}: ${label(what, part)} needs ${n} bytes at offset ${this.pos}, the file ends at ${this.fileSize}`,
      );
    if (end > this.limit)
      this.fail(
        `${this.where}: the header runs past ${formatBytes(this.limit)} (offset ${end}), the limit on GGUF headers (MAX_GGUF_HEADER_BYTES)`,
      );
    if (end > this.bytes.length) throw new NeedMore(end);
  }
  u8(what: What): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u32(what: What): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: What, part = ''): bigint {
    this.need(8, what, part);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 length that must fit in what remains of the file at `unit` bytes per item, checked before use. */
  length(what: What, unit: number): number {
    const at = this.pos;
    this.need(8, what, ' length');
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    this.pos += 8;
    // The common case in plain numbers; BigInt only for lengths above 2^32 (refused below anyway).
    if (hi === 0 && lo * unit <= this.remaining) return lo;
    const n = (BigInt(hi) << 32n) | BigInt(lo);
    const needed = n * BigInt(unit);
    if (needed > BigInt(this.remaining))
      this.fail(
        `${this.where}: ${label(what)} length ${n} needs at least ${needed} bytes, only ${this.remaining} remain (length at offset ${at})`,
      );
    return Number(n);
  }
  string(what: What): string {
    const n = this.length(what, 1);
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    if (!isUtf8(this.buf.subarray(at, at + n)))
      this.fail(`${this.where}: ${label(what)} at offset ${at} is not valid UTF-8`);
    return this.buf.toString('utf8', at, at + n);
  }
}

/** The parse, over `bytes` (the file or a prefix of it). Throws UserError, or NeedMore for a short prefix. */
function parse(bytes: Uint8Array, fileSize: number, source: string, options: GgufParseOptions): GgufHeader {
  const fail = (why: string): never => {
    throw new UserError(`${source}: invalid GGUF: ${why}`);
  };
  if (!Number.isSafeInteger(fileSize) || fileSize < bytes.length)
    throw new Error(`parseGguf: fileSize ${fileSize} is smaller than the ${bytes.length} bytes given`);
  if (isLfsPointer(bytes)) throw lfsPointerError(source, bytes);
  const c = new Cursor(bytes, fileSize, options.maxHeaderBytes ?? MAX_GGUF_HEADER_BYTES, fail);
  let itemsLeft = options.maxArrayItems ?? MAX_GGUF_ARRAY_ITEMS;

  // ---- magic and version
  if (fileSize < 4) fail(`the file is ${fileSize} bytes, too short for a GGUF header (${HEADER_MIN} bytes)`);
  c.need(4, 'magic');
  const magic = bytes.subarray(0, 4);
  const ascii = Buffer.from(magic).toString('latin1');
  if (ascii !== 'GGUF') {
    const legacy = LEGACY_MAGICS.get(ascii);
    if (legacy)
      fail(`this is a legacy ${legacy} file (before GGUF): convert it to GGUF with llama.cpp's convert scripts`);
    fail(`the file does not start with the magic "GGUF" (it starts with ${hex(magic)}): not a GGUF file`);
  }
  c.pos = 4;
  c.where = 'header';
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    const swapped = c.view.getUint32(4, false);
    if ((version & 0xffff) === 0 && swapped >= 1 && swapped <= 3)
      fail(
        `this is a big-endian GGUF (version ${swapped} written big-endian): only little-endian files are read; convert it with gguf-py's gguf_convert_endian.py`,
      );
    if (version === 1)
      fail(
        'GGUF version 1 (the 2023 draft, 32-bit counts) is not supported: re-convert the model with a current llama.cpp',
      );
    fail(`unsupported GGUF version ${version} (versions 2 and 3 are read)`);
  }
  if (fileSize < HEADER_MIN) fail(`truncated: the file is ${fileSize} bytes, a GGUF header needs ${HEADER_MIN}`);
  const tensorCount = c.u64('tensor count');
  const kvCount = c.u64('metadata count');
  if (kvCount > BigInt(MAX_GGUF_METADATA_ENTRIES))
    fail(
      `${kvCount} metadata entries: more than the limit of ${MAX_GGUF_METADATA_ENTRIES} (MAX_GGUF_METADATA_ENTRIES)`,
    );
  if (tensorCount > BigInt(MAX_GGUF_TENSORS))
    fail(`${tensorCount} tensors: more than the limit of ${MAX_GGUF_TENSORS} (MAX_GGUF_TENSORS)`);
  const least = kvCount * BigInt(MIN_KV_BYTES) + tensorCount * BigInt(MIN_TENSOR_INFO_BYTES);
  if (least > BigInt(c.remaining))
    fail(
      `${kvCount} metadata entries and ${tensorCount} tensors need at least ${least} bytes, only ${c.remaining} remain after the header: the file is truncated or the counts are wrong`,
    );

  // ---- metadata
  const readValue = (type: GgufValueType, what: What, depth: number): GgufValue => {
    switch (type) {
      case 'uint8':
        return { type, value: c.u8(what) };
      case 'int8':
        c.need(1, what);
        return { type, value: c.view.getInt8(c.pos++) };
      case 'bool': {
        const at = c.pos;
        const b = c.u8(what);
        if (b > 1) fail(`${c.where}: ${label(what)} at offset ${at} is a bool of value ${b}, not 0 or 1`);
        return { type, value: b === 1 };
      }
      case 'uint16':
      case 'int16': {
        c.need(2, what);
        const value = type === 'uint16' ? c.view.getUint16(c.pos, true) : c.view.getInt16(c.pos, true);
        c.pos += 2;
        return { type, value };
      }
      case 'uint32':
        return { type, value: c.u32(what) };
      case 'int32':
      case 'float32': {
        c.need(4, what);
        const value = type === 'int32' ? c.view.getInt32(c.pos, true) : c.view.getFloat32(c.pos, true);
        c.pos += 4;
        return { type, value };
      }
      case 'uint64':
        return { type, value: c.u64(what) };
      case 'int64':
        c.need(8, what);
        c.pos += 8;
        return { type, value: c.view.getBigInt64(c.pos - 8, true) };
      case 'float64':
        c.need(8, what);
        c.pos += 8;
        return { type, value: c.view.getFloat64(c.pos - 8, true) };
      case 'string':
        return { type, value: c.string(what) };
      case 'array': {
        if (depth >= MAX_GGUF_ARRAY_NESTING)
          fail(`${c.where}: arrays nested deeper than ${MAX_GGUF_ARRAY_NESTING} levels (offset ${c.pos})`);
        const itemType = valueType(`${label(what)} item type`);
        const n = c.length('array', MIN_ITEM_BYTES[itemType]);
        itemsLeft -= n;
        if (itemsLeft < 0)
          fail(
            `${c.where}: array length ${n} brings the metadata past ${options.maxArrayItems ?? MAX_GGUF_ARRAY_ITEMS} array items, the limit (MAX_GGUF_ARRAY_ITEMS)`,
          );
        const value: unknown[] = new Array(n);
        const width = FIXED_WIDTH[itemType];
        if (width !== undefined && itemType !== 'bool') {
          // Numbers: one bounds check for the whole array, then plain reads.
          c.need(n * width, 'array items');
          const read = NUMBER_READERS[itemType]!;
          for (let i = 0; i < n; i++) value[i] = read(c.view, c.pos + i * width);
          c.pos += n * width;
        } else if (itemType === 'string') for (let i = 0; i < n; i++) value[i] = c.string(i);
        else
          for (let i = 0; i < n; i++) {
            const item = readValue(itemType, i, depth + 1);
            value[i] = item.type === 'array' ? item : item.value;
          }
        return { type, itemType, value } as GgufArray;
      }
    }
  };
  const valueType = (what: string): GgufValueType => {
    const at = c.pos;
    const id = c.u32(what);
    const t = GGUF_VALUE_TYPES[id];
    if (t === undefined)
      fail(`${c.where}: unknown value type ${id} at offset ${at} (known: 0..${GGUF_VALUE_TYPES.length - 1})`);
    return t!;
  };

  const metadata = new Map<string, GgufValue>();
  const keyIndex = new Map<string, number>();
  for (let i = 0; i < Number(kvCount); i++) {
    c.where = `metadata key #${i}`;
    const key = c.string('key');
    if (key === '') fail(`${c.where}: the key is empty`);
    c.where = `metadata key #${i} ${q(key)}`;
    const first = keyIndex.get(key);
    if (first !== undefined) fail(`${c.where}: duplicate key (first at metadata key #${first})`);
    keyIndex.set(key, i);
    metadata.set(key, readValue(valueType('value type'), 'value', 0));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const stated = metadata.get('general.alignment');
  if (stated !== undefined) {
    const where = `metadata key #${keyIndex.get('general.alignment')} "general.alignment"`;
    if (stated.type !== 'uint32') fail(`${where}: must be a uint32, got a ${stated.type}`);
    const a = stated.value as number;
    if (a === 0 || (a & (a - 1)) !== 0) fail(`${where}: ${a} is not a power of two`);
    alignment = a;
  }

  // ---- tensor infos
  const infos: { name: string; type: GgmlType; dims: number[]; elements: bigint; offset: bigint; size: bigint }[] = [];
  const tensorIndex = new Map<string, number>();
  for (let i = 0; i < Number(tensorCount); i++) {
    c.where = `tensor #${i}`;
    const name = c.string('name');
    c.where = `tensor ${q(name)} (#${i})`;
    if (name === '') fail(`tensor #${i}: the name is empty`);
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes >= GGML_MAX_NAME)
      fail(`${c.where}: the name is ${nameBytes} bytes, ggml allows at most ${GGML_MAX_NAME - 1} (GGML_MAX_NAME)`);
    const first = tensorIndex.get(name);
    if (first !== undefined) fail(`${c.where}: duplicate tensor name (first at tensor #${first})`);
    tensorIndex.set(name, i);
    const nDims = c.u32('n_dims');
    if (nDims < 1 || nDims > GGML_MAX_DIMS) fail(`${c.where}: ${nDims} dimensions, ggml allows 1 to ${GGML_MAX_DIMS}`);
    const big: bigint[] = [];
    for (let d = 0; d < nDims; d++) {
      const ne = c.u64(`ne[${d}]`);
      if (ne < 1n) fail(`${c.where}: ne[${d}] is 0: every dimension must be at least 1`);
      big.push(ne);
    }
    const typeAt = c.pos;
    const typeId = c.u32('type');
    const type = ggmlTypeById(typeId);
    if (!type) {
      const removed = REMOVED_GGML_TYPES.get(typeId);
      fail(
        `${c.where}: ggml type ${typeId} ${removed ? `is ${removed}` : `is unknown (offset ${typeAt}; known ids 0..${GGML_TYPE_COUNT - 1})`}`,
      );
    }
    const offset = c.u64('offset');
    const size = ggmlTensorBytes(type!, big);
    if (size === undefined)
      fail(`${c.where}: ne[0] ${big[0]} is not a multiple of ${type!.name}'s block size ${type!.blockSize}`);
    if (size! > BigInt(fileSize))
      fail(
        `${c.where}: ${type!.name} [${big.join(', ')}] needs ${size} bytes, more than the whole file (${fileSize} bytes)`,
      );
    const elements = big.reduce((a, b) => a * b, 1n);
    infos.push({ name, type: type!, dims: big.map(Number), elements, offset, size: size! });
  }
  const headerBytes = c.pos;
  const dataStart = Math.ceil(headerBytes / alignment) * alignment;

  // ---- data layout: each tensor right after the previous one, padded to the alignment (llama.cpp's rule,
  // gguf.cpp `gguf_init_from_file_impl`: "tensor '%s' has offset %d, expected %zu"); all in the file.
  const tensors: GgufTensor[] = [];
  let expected = 0;
  for (let i = 0; i < infos.length; i++) {
    const t = infos[i]!;
    const where = `tensor ${q(t.name)} (#${i})`;
    if (t.offset % BigInt(alignment) !== 0n)
      fail(`${where}: offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    const start = BigInt(dataStart) + t.offset;
    const end = start + t.size;
    if (end > BigInt(fileSize))
      fail(
        `${where}: its ${t.size} bytes at offset ${t.offset} (file bytes ${start}..${end}) are out of bounds: the file has ${fileSize} bytes`,
      );
    const offset = Number(t.offset);
    if (offset < expected) {
      const hit = tensors.find(
        (o) => o.offset - dataStart < offset + Number(t.size) && offset < o.offset - dataStart + o.size,
      );
      fail(
        `${where}: offset ${offset} overlaps ${hit ? `tensor ${q(hit.name)} (#${tensors.indexOf(hit)}) at ${hit.offset - dataStart}..${hit.offset - dataStart + hit.size}` : 'an earlier tensor'} (tensors follow each other in order, each padded to the alignment ${alignment}: expected offset ${expected})`,
      );
    }
    if (offset > expected)
      fail(
        `${where}: offset ${offset} leaves a gap of ${offset - expected} bytes after ${i ? `tensor ${q(infos[i - 1]!.name)} (#${i - 1})` : 'the start of the data section'} (tensors follow each other in order, each padded to the alignment ${alignment}: expected offset ${expected})`,
      );
    const size = Number(t.size);
    tensors.push({
      name: t.name,
      type: t.type.id,
      typeName: t.type.name,
      dims: t.dims,
      elements: Number(t.elements),
      offset: dataStart + offset,
      size,
    });
    expected = offset + Math.ceil(size / alignment) * alignment;
  }
  // Tolerance at the end: the last tensor's padding (alignment - 1 bytes at most), or, with no tensors, the
  // padding after the header. Anything longer is data no tensor describes: refused.
  const end = tensors.length ? dataStart + expected : dataStart;
  if (fileSize > end) {
    const last = tensors[tensors.length - 1];
    fail(
      `${fileSize - end} bytes after the ${last ? `last tensor ${q(last.name)} (it ends at ${last.offset + last.size}, padded to ${end})` : `header (it ends at ${headerBytes}, padded to ${end})`}: the file has ${fileSize} bytes; no tensor describes them`,
    );
  }
  return { version: version as 2 | 3, alignment, metadata, tensors, dataStart, headerBytes, fileSize };
}

/**
 * Parse a GGUF header from `bytes` (the whole file, or a prefix holding at least the header) of a file of
 * `fileSize` bytes; `source` names the file in errors. Pure. Every refusal is a UserError naming the file
 * and the field or offset.
 */
export function parseGguf(
  bytes: Uint8Array,
  fileSize: number,
  source: string,
  options: GgufParseOptions = {},
): GgufHeader {
  try {
    return parse(bytes, fileSize, source, options);
  } catch (e) {
    if (e instanceof NeedMore)
      throw new UserError(
        `${source}: invalid GGUF: the header runs past the ${bytes.length} bytes read (to offset ${e.end}); pass more of the file`,
      );
    throw e;
  }
}

/** First read of readGgufHeader: most headers (tokenizer included) fit. */
const FIRST_READ = 1024 * 1024;

/** Read and check the header of a GGUF file on disk, reading only the bytes the header needs (bounded). */
export async function readGgufHeader(file: string, options: GgufParseOptions = {}): Promise<GgufHeader> {
  const limit = options.maxHeaderBytes ?? MAX_GGUF_HEADER_BYTES;
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    let want = Math.min(size, FIRST_READ, limit);
    for (;;) {
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      if (bytesRead !== want)
        throw new UserError(`${file}: the file changed while it was read (read ${bytesRead} of ${want} bytes)`);
      try {
        return parse(buf, size, file, options);
      } catch (e) {
        if (!(e instanceof NeedMore)) throw e;
        // The cursor refuses past the file's end and the limit first, so this stays bounded.
        want = Math.min(size, limit, Math.max(e.end, want * 2));
      }
    }
  } finally {
    await fh.close();
  }
}

// ---- card facts --------------------------------------------------------------------------------------

export interface GgufFacts {
  /** `general.architecture` (llama, qwen2, gemma3…). */
  family?: string;
  /** Elements over all tensors. */
  parameters: number;
  /** `general.file_type` as llama.cpp names it (MOSTLY_Q4_K_M), else the tensor type holding the most bytes. */
  quantization?: string;
  /** The ggml type holding the most bytes (Q4_K, F16). */
  dtype?: string;
  /** `<architecture>.context_length`. */
  contextLength?: number;
}

/** A scalar metadata value as a number, when it is one (integers of 64 bits included when exact). */
export function ggufNumber(h: GgufHeader, key: string): number | undefined {
  const v = h.metadata.get(key);
  if (!v || v.type === 'array' || v.type === 'string' || v.type === 'bool') return undefined;
  const n = Number(v.value);
  return typeof v.value === 'bigint' && BigInt(n) !== v.value ? undefined : n;
}

/** A string metadata value, when it is one. */
export function ggufString(h: GgufHeader, key: string): string | undefined {
  const v = h.metadata.get(key);
  return v?.type === 'string' ? v.value : undefined;
}

/** What a model card can say from a GGUF header alone. */
export function ggufFacts(h: GgufHeader): GgufFacts {
  const family = ggufString(h, 'general.architecture');
  const bytesByType = new Map<string, number>();
  let parameters = 0;
  for (const t of h.tensors) {
    parameters += t.elements;
    bytesByType.set(t.typeName, (bytesByType.get(t.typeName) ?? 0) + t.size);
  }
  let dtype: string | undefined;
  for (const [name, bytes] of bytesByType) if (dtype === undefined || bytes > bytesByType.get(dtype)!) dtype = name;
  const fileType = ggufNumber(h, 'general.file_type');
  const quantization = (fileType === undefined ? undefined : LLAMA_FILE_TYPES.get(fileType)) ?? dtype;
  const contextLength = family === undefined ? undefined : ggufNumber(h, `${family}.context_length`);
  return {
    ...(family !== undefined ? { family } : {}),
    parameters,
    ...(quantization !== undefined ? { quantization } : {}),
    ...(dtype !== undefined ? { dtype } : {}),
    ...(contextLength !== undefined ? { contextLength } : {}),
  };
}
