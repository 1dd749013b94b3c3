// safetensors: a strict header parser, a per-tensor index computed in the same read pass as the
// file's sha256, a parameter/dtype summary, and a small writer (tests and demo models).
// Format: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section.
import { open, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../lib/fs-atomic.ts';
import { UserError } from '../lib/errors.ts';
import { hashFile, RangeHasher, sha256Hex } from '../lib/hash.ts';

/** Refuse headers above this: a hostile length field must not make us allocate gigabytes. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Bits per element. Sub-byte types (F4, F6_*) are allowed when the tensor's total bits are whole bytes. */
export const DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, number>, {
    BOOL: 8,
    U8: 8,
    I8: 8,
    F8_E5M2: 8,
    F8_E4M3: 8,
    F8_E8M0: 8,
    I16: 16,
    U16: 16,
    F16: 16,
    BF16: 16,
    I32: 32,
    U32: 32,
    F32: 32,
    I64: 64,
    U64: 64,
    F64: 64,
    C64: 64,
    F4: 4,
    F6_E2M3: 6,
    F6_E3M2: 6,
  }),
);

/** Is `dtype` a known dtype (an own entry of DTYPE_BITS: never `toString`, `__proto__`, ...)? */
export const isDtype = (dtype: unknown): dtype is string =>
  typeof dtype === 'string' && Object.hasOwn(DTYPE_BITS, dtype);

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offsets in the file: [start, end). */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  /** The JSON header length N (the data section starts at 8 + N). */
  headerSize: number;
  dataStart: number;
  tensors: TensorInfo[];
  metadata: Record<string, string>;
}

export interface IndexedTensor extends TensorInfo {
  sha256: string;
}

export interface SafetensorsIndex {
  format: 'safetensors';
  headerSize: number;
  metadata?: Record<string, string>;
  tensors: IndexedTensor[];
}

// What the header parser matches in the reference implementation (Hugging Face's `safetensors` crate,
// safetensors/src/tensor.rs: `SafeTensors::read_metadata`, `Metadata::validate`, `TensorInfo`, `Dtype`):
// - the header is read by serde_json into typed structs: `dtype` one of the `Dtype` enum's names,
//   `shape: Vec<usize>`, `data_offsets: (usize, usize)`, `__metadata__: Option<HashMap<String, String>>`;
// - a usize is only a JSON number written as digits: serde_json (its de.rs `parse_number`) reads
//   `16.0`, `1e1` and `-0` as floats, and a float (or a negative integer) is refused for a usize;
// - serde_json refuses JSON nested 128 containers deep (de.rs: `remaining_depth: 128`, the container
//   that brings it to 0 fails), so 127 is the deepest header the reference reads;
// - leading and trailing JSON whitespace around the object is accepted (tensor.rs tests
//   `test_whitespace_leading_padded_header`, `test_whitespace_padded_header`);
// - element count and bit count are checked products that must fit a u64 usize, in shape order
//   (`ValidationOverflow`), then whole bytes (`MisalignedSlice`) equal to the offsets' span;
// - sorted by data_offsets, tensors are contiguous from 0 and the last one ends the file
//   (`InvalidOffset`, `MetadataIncompleteBuffer`).
// Stricter here on purpose: duplicate keys, unknown tensor fields, `__metadata__: null`, and shape or
// offset values above 2^53 - 1 (a JS number cannot hold them exactly) are refused.

/** The deepest nesting of arrays and objects a header may have (serde_json's limit, see above). */
export const MAX_JSON_NESTING = 127;

/** A number the reference would not read as a usize (`16.0`, `1e1`, `-0`, `-1`): kept as its JSON text. */
class NotUsize {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

const USIZE_MAX = 2n ** 64n - 1n;

const isUsize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A plain JSON object (not an array, null, or a marked number). */
const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof NotUsize);

const PREVIEW_CHARS = 64;
const PREVIEW_ITEMS = 8;

/** A string as JSON, cut to a bounded length (the rest counted). */
export function quoteBounded(s: string, max = PREVIEW_CHARS): string {
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)` : JSON.stringify(s);
}

/** A bounded, non-recursive rendering of a JSON value: one level of an array, never an object's inside. */
function preview(v: unknown, top = true): string {
  if (v instanceof NotUsize) return v.source.length > 32 ? `${v.source.slice(0, 32)}…` : v.source;
  if (typeof v === 'string') return quoteBounded(v, top ? PREVIEW_CHARS : 16);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (!top) return '[…]';
    const items = v.slice(0, PREVIEW_ITEMS).map((x: unknown) => preview(x, false));
    return `[${items.join(',')}${v.length > PREVIEW_ITEMS ? `,… (${v.length} items)` : ''}]`;
  }
  if (typeof v === 'object') return Object.keys(v).length ? '{…}' : '{}';
  return String(v);
}

/** What a JSON value is, for an error: its type and a bounded preview ("array [1,2]", "null", "nothing"). */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  const type = v instanceof NotUsize || typeof v === 'number' ? 'number' : Array.isArray(v) ? 'array' : typeof v;
  return `${type} ${preview(v)}`;
}

/** Why `v` is not a usize, for an error naming the element. */
function whyNotUsize(v: unknown): string {
  if (v instanceof NotUsize)
    return `is ${preview(v)}: a usize is written in digits only (no sign, fraction or exponent), as the reference reads it`;
  if (typeof v === 'number') return `is ${v}, over 2^53 - 1`;
  return `is ${describeJson(v)}`;
}

interface ScanLevel {
  /** Keys seen so far (objects only). */
  keys: Set<string> | null;
  expectKey: boolean;
  /** The last key read at this level (objects), or the index of the current element (arrays). */
  key: string | undefined;
  index: number;
}

/** A number in a tensor's shape or data_offsets list not written as a usize: where, and its text. */
interface Misspelled {
  name: string;
  field: string;
  index: number;
  source: string;
}

interface Scan {
  duplicate?: string;
  atTop?: boolean;
  misspelled: Misspelled[];
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/** Characters a JSON number token can hold after its first one. */
const isNumberChar = (c: number): boolean =>
  isDigit(c) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;

/**
 * One pass over the header text, before any parsing:
 * - refuses nesting past MAX_JSON_NESTING at once (a limit before work: nothing recursive ever sees a
 *   deeper value);
 * - finds the first key repeated in one object (JSON.parse silently keeps the last one, which would let
 *   two readers see different tensors);
 * - lists the numbers in shape and data_offsets lists that are not written as a usize (digits only, no
 *   leading zero): JSON.parse gives 16.0 and 16 the same value, so only the text can tell them apart.
 * Safe on text that is not valid JSON: it stops, and JSON.parse then says what is wrong.
 */
function scanHeader(text: string, fail: (why: string) => never): Scan {
  const stack: ScanLevel[] = [];
  const found: Scan = { misspelled: [] };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j < 0) return found; // unterminated string: not JSON
        let backslashes = 0;
        while (text.charCodeAt(j - 1 - backslashes) === 0x5c /* \ */) backslashes++;
        if (backslashes % 2 === 0) break;
      }
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return found; // a bad escape: not JSON
        }
        if (found.duplicate === undefined && top.keys.has(key)) {
          found.duplicate = key;
          found.atTop = stack.length === 1;
        }
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x2d /* - */ || isDigit(c)) {
      let j = i + 1;
      let usize = c !== 0x2d;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) {
        if (!isDigit(text.charCodeAt(j))) usize = false;
        j++;
      }
      if (c === 0x30 && j > i + 1) usize = false; // a leading zero (not JSON either)
      // Only numbers directly in a tensor's shape or data_offsets list matter here (a number anywhere
      // else is refused for its type: metadata values are strings, list elements are not lists), and
      // only the first: one is enough to refuse the file.
      if (!usize && stack.length === 3 && found.misspelled.length === 0) {
        const [root, entry, list] = stack as [ScanLevel, ScanLevel, ScanLevel];
        if (
          root.keys &&
          root.key !== undefined &&
          root.key !== '__metadata__' &&
          entry.keys &&
          (entry.key === 'shape' || entry.key === 'data_offsets') &&
          !list.keys
        )
          found.misspelled.push({ name: root.key, field: entry.key, index: list.index, source: text.slice(i, j) });
      }
      i = j - 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_NESTING) fail(`${where(stack)}: nested deeper than ${MAX_JSON_NESTING} levels`);
      stack.push({ keys: c === 0x7b ? new Set() : null, expectKey: c === 0x7b, key: undefined, index: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
      else if (top) top.index++;
    }
  }
  return found;
}

/** Puts a NotUsize (the number's text) where the scan found a misspelled number, so the checks see it. */
function markMisspelled(json: Record<string, unknown>, misspelled: readonly Misspelled[]): void {
  for (const m of misspelled) {
    const entry = Object.hasOwn(json, m.name) ? json[m.name] : undefined;
    if (!isJsonObject(entry) || !Object.hasOwn(entry, m.field)) continue;
    const list = entry[m.field];
    if (Array.isArray(list) && m.index < list.length && typeof list[m.index] === 'number')
      list[m.index] = new NotUsize(m.source);
  }
}

/** The field an open container belongs to, from the scan's stack: `tensor "a" shape`, `__metadata__ "k"`. */
function where(stack: readonly ScanLevel[]): string {
  const [root, entry] = stack;
  if (!root?.keys || root.key === undefined) return 'header';
  const field = entry?.keys && entry.key !== undefined ? entry.key : undefined;
  if (root.key === '__metadata__') return `__metadata__${field === undefined ? '' : ` ${quoteBounded(field)}`}`;
  const t = `tensor ${quoteBounded(root.key)}`;
  if (field === undefined) return t;
  return `${t} ${TENSOR_FIELDS.includes(field) ? field : quoteBounded(field)}`;
}

const TENSOR_FIELDS: readonly string[] = ['dtype', 'shape', 'data_offsets'];

/** Parse and check a header. `fileSize` is the whole file's size; `file` names the file in errors. */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  headerSize: number,
  fileSize: number,
): SafetensorsHeader {
  const fail = (why: string): never => {
    throw new UserError(`${file}: invalid safetensors: ${why}`);
  };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    return fail('header is not valid UTF-8');
  }
  const first = text.search(/[^ \t\n\r]/); // JSON whitespace may pad the object on either side
  if (first < 0 || text[first] !== '{')
    fail(`header is not a JSON object (starts with ${JSON.stringify(text.slice(0, 16))})`);
  const scanned = scanHeader(text, fail); // nesting is bounded from here on
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isJsonObject(json)) return fail('header is not a JSON object');
  if (scanned.duplicate !== undefined)
    fail(`duplicate key ${quoteBounded(scanned.duplicate)}${scanned.atTop ? ' (tensor names must be unique)' : ''}`);
  markMisspelled(json, scanned.misspelled);

  const dataStart = 8 + headerSize;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const name of Object.keys(json)) {
    const value = json[name]; // an own property: Object.keys lists nothing else
    if (name === '__metadata__') {
      if (!isJsonObject(value)) return fail(`__metadata__ must be an object of strings, got ${describeJson(value)}`);
      for (const k of Object.keys(value)) {
        const v = value[k];
        if (typeof v !== 'string') fail(`__metadata__ ${quoteBounded(k)} must be a string, got ${describeJson(v)}`);
        // defineProperty, not assignment: a key such as `__proto__` is kept as data, never a setter.
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const t = `tensor ${quoteBounded(name)}`;
    if (!isJsonObject(value))
      return fail(`${t} must be an object {dtype, shape, data_offsets}, got ${describeJson(value)}`);
    const keys = Object.keys(value);
    const extra = keys.filter((k) => !TENSOR_FIELDS.includes(k));
    if (extra.length)
      fail(
        `${t} has unknown field(s) ${extra
          .slice(0, 4)
          .map((k) => quoteBounded(k))
          .join(', ')}${extra.length > 4 ? ` and ${extra.length - 4} more` : ''}`,
      );
    for (const f of TENSOR_FIELDS) if (!Object.hasOwn(value, f)) fail(`${t} is missing ${f}`);
    const { dtype, shape, data_offsets: offsets } = value;

    if (typeof dtype !== 'string') return fail(`${t} dtype must be a string, got ${describeJson(dtype)}`);
    if (!isDtype(dtype))
      fail(`${t} has unknown dtype ${quoteBounded(dtype)} (known: ${Object.keys(DTYPE_BITS).join(', ')})`);
    const shapeError = `${t} shape must be a list of non-negative integers, got`;
    if (!Array.isArray(shape)) return fail(`${shapeError} ${describeJson(shape)}`);
    for (let i = 0; i < shape.length; i++)
      if (!isUsize(shape[i])) fail(`${shapeError} ${preview(shape)}: shape[${i}] ${whyNotUsize(shape[i])}`);
    const offsetsError = `${t} data_offsets must be [start, end] non-negative integers, got`;
    if (!Array.isArray(offsets) || offsets.length !== 2) return fail(`${offsetsError} ${describeJson(offsets)}`);
    for (let i = 0; i < 2; i++)
      if (!isUsize(offsets[i]))
        fail(`${offsetsError} ${preview(offsets)}: data_offsets[${i}] ${whyNotUsize(offsets[i])}`);
    const dims = shape as number[];
    const [start, end] = offsets as [number, number];
    if (end < start) fail(`${t} data_offsets [${start}, ${end}] end before start`);
    if (end > dataSize)
      fail(`${t} data_offsets [${start}, ${end}] out of range: the data section has ${dataSize} bytes`);

    // Element count, then bits, as checked u64 products in shape order (the reference's overflow rule).
    const overflow = (): never =>
      fail(`${t} shape ${preview(dims)} overflows: its ${dtype} size does not fit a 64-bit count`);
    let count = 1;
    let big: bigint | undefined;
    for (const d of dims) {
      if (big === undefined) {
        const p = count * d;
        if (p <= Number.MAX_SAFE_INTEGER) {
          count = p;
          continue;
        }
        big = BigInt(count);
      }
      big *= BigInt(d);
      if (big > USIZE_MAX) overflow();
    }
    const bits = (big ?? BigInt(count)) * BigInt(DTYPE_BITS[dtype]!);
    if (bits > USIZE_MAX) overflow();
    if (bits % 8n !== 0n) fail(`${t} ${dtype} ${preview(dims)} is not a whole number of bytes`);
    if (bits / 8n !== BigInt(end - start)) {
      fail(
        `${t} size mismatch: ${dtype} ${preview(dims)} needs ${bits / 8n} bytes, data_offsets [${start}, ${end}] give ${end - start}`,
      );
    }
    tensors.push({ name, dtype, shape: dims, start, end });
  }

  // The data section must be covered exactly: sorted, no overlap, no hole, nothing after the last tensor.
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  let prev: TensorInfo | undefined;
  for (const t of tensors) {
    const name = quoteBounded(t.name);
    if (t.start < pos)
      fail(
        `tensor ${name} data_offsets [${t.start}, ${t.end}] overlap tensor ${quoteBounded(prev!.name)} [${prev!.start}, ${prev!.end}]`,
      );
    if (t.start > pos)
      fail(`hole in the data section: bytes [${pos}, ${t.start}) before tensor ${name} belong to no tensor`);
    pos = t.end;
    if (t.end > t.start) prev = t;
  }
  if (pos !== dataSize)
    fail(`${dataSize - pos} bytes after the last tensor (data section is ${dataSize} bytes, tensors end at ${pos})`);
  for (const t of tensors) {
    t.start += dataStart;
    t.end += dataStart;
  }
  return { headerSize, dataStart, tensors, metadata };
}

/**
 * Check the 8-byte length field (little-endian u64 at the start of `prefix`) against the limit and
 * the file size; returns the JSON header length N. Shared by the file and in-memory readers.
 */
function headerLength(file: string, prefix: Uint8Array, fileSize: number, maxHeaderBytes: number): number {
  const fail = (why: string): never => {
    throw new UserError(`${file}: invalid safetensors: ${why}`);
  };
  if (fileSize < 8 || prefix.length < 8)
    fail(`file is ${fileSize} bytes, shorter than the 8-byte header length (truncated?)`);
  const n = Buffer.from(prefix.buffer, prefix.byteOffset, 8).readBigUInt64LE(0);
  if (n > BigInt(maxHeaderBytes)) fail(`header length ${n} is over the ${maxHeaderBytes}-byte limit`);
  const headerSize = Number(n);
  if (headerSize < 2) fail(`header length ${headerSize} is too small for a JSON object`);
  if (8 + headerSize > fileSize)
    fail(`header length ${headerSize} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return headerSize;
}

export interface ParseOptions {
  /** A tighter bound than MAX_HEADER_BYTES (never a looser one). */
  maxHeaderBytes?: number;
  /** Size of the whole file when `bytes` is only its start (e.g. a fetched header); default bytes.length. */
  fileSize?: number;
}

/**
 * Parse and check the header of a safetensors file held in memory: the whole file, or at least its
 * first 8 + N bytes with `fileSize` given. Same checks and errors as readSafetensorsHeader.
 */
export function parseSafetensors(file: string, bytes: Uint8Array, options: ParseOptions = {}): SafetensorsHeader {
  const fileSize = options.fileSize ?? bytes.length;
  const headerSize = headerLength(
    file,
    bytes,
    fileSize,
    Math.min(options.maxHeaderBytes ?? MAX_HEADER_BYTES, MAX_HEADER_BYTES),
  );
  if (bytes.length < 8 + headerSize)
    throw new UserError(`${file}: invalid safetensors: need ${8 + headerSize} bytes of header, have ${bytes.length}`);
  return parseSafetensorsHeader(file, bytes.subarray(8, 8 + headerSize), headerSize, fileSize);
}

/** Read and check the header of a safetensors file (reads only the header). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerSize = headerLength(file, lenBuf, size, MAX_HEADER_BYTES);
    const header = Buffer.alloc(headerSize);
    const { bytesRead } = await fh.read(header, 0, headerSize, 8);
    if (bytesRead !== headerSize)
      throw new UserError(`${file}: invalid safetensors: file shrank while reading the header`);
    return parseSafetensorsHeader(file, header, headerSize, size);
  } finally {
    await fh.close();
  }
}

/**
 * The index object the store writes at push time (`indexes/sha256/<file sha256>.json`) and a device
 * reads back: `headerSize` is the JSON header length N (tensor bytes start at 8 + N), tensor offsets
 * are absolute. This is the one definition of that format.
 */
function toIndex(header: SafetensorsHeader, sha256s: readonly string[]): SafetensorsIndex {
  return {
    format: 'safetensors',
    headerSize: header.headerSize,
    ...(Object.keys(header.metadata).length ? { metadata: header.metadata } : {}),
    tensors: header.tensors.map((t, i) => ({ ...t, sha256: sha256s[i]! })),
  };
}

/** The index of a safetensors file held in memory (same object indexSafetensors gives for the file). */
export function indexSafetensorsBytes(file: string, bytes: Uint8Array): SafetensorsIndex {
  const header = parseSafetensors(file, bytes);
  return toIndex(
    header,
    header.tensors.map((t) => sha256Hex(bytes.subarray(t.start, t.end))),
  );
}

/**
 * The per-file index (absolute offsets, per-tensor sha256) and the whole-file sha256, in one read pass.
 * Tensors are contiguous and sorted, so each chunk of the pass feeds the file hash and the tensors it spans.
 */
export async function indexSafetensors(
  file: string,
): Promise<{ sha256: string; size: number; index: SafetensorsIndex }> {
  const header = await readSafetensorsHeader(file);
  const tensors = new RangeHasher(header.tensors); // sorted and contiguous: the parser checks
  const { sha256, size } = await hashFile(file, { onData: (chunk, position) => tensors.feed(chunk, position) });
  const st = await stat(file);
  const digests = tensors.digests();
  if (st.size !== size || digests.some((d) => d === undefined))
    throw new UserError(`${file} changed while being indexed`);
  return { sha256, size, index: toIndex(header, digests as string[]) };
}

/** Parameter count and the dtype holding the most bytes (ties: the first seen), e.g. for a model card. */
export function summarizeTensors(tensors: readonly TensorInfo[]): { parameters: number; dtype: string | undefined } {
  let parameters = 0;
  const bytes = new Map<string, number>();
  for (const t of tensors) {
    parameters += t.shape.reduce((a, d) => a * d, 1);
    bytes.set(t.dtype, (bytes.get(t.dtype) ?? 0) + (t.end - t.start));
  }
  let dtype: string | undefined;
  let best = -1;
  for (const [d, b] of bytes) if (b > best) [dtype, best] = [d, b];
  return { parameters, dtype };
}

export interface TensorData {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array;
}

/** Build a valid safetensors file in memory (header padded with spaces to 8-byte alignment, as the reference writer does). */
export function encodeSafetensors(tensors: readonly TensorData[], metadata?: Record<string, string>): Buffer {
  // No prototype: a tensor named `__proto__` must become a key, not the object's prototype.
  const header = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const h = Buffer.from(json);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, ...tensors.map((t) => t.data)]);
}

export async function writeSafetensors(
  file: string,
  tensors: readonly TensorData[],
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
