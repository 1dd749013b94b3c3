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
export const DTYPE_BITS: Readonly<Record<string, number>> = {
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
};

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

/**
 * Throw if any JSON object in `text` (already known to be valid JSON) repeats a key:
 * JSON.parse silently keeps the last one, which would let two readers see different tensors.
 */
function assertNoDuplicateKeys(text: string, fail: (why: string) => never): void {
  const stack: { keys: Set<string> | null; expectKey: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key))
          fail(`duplicate key ${JSON.stringify(key)}${stack.length === 1 ? ' (tensor names must be unique)' : ''}`);
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true });
    else if (c === '[') stack.push({ keys: null, expectKey: false });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top?.keys) top.expectKey = true;
  }
}

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
  if (!text.startsWith('{')) fail(`header is not a JSON object (starts with ${JSON.stringify(text.slice(0, 16))})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('header is not a JSON object');
  assertNoDuplicateKeys(text, fail);

  const dataStart = 8 + headerSize;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string')
          fail(`__metadata__ ${JSON.stringify(k)} must be a string, got ${v === null ? 'null' : typeof v}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = `tensor ${JSON.stringify(name)}`;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`${t} must be an object {dtype, shape, data_offsets}`);
    const { dtype, shape, data_offsets: offsets, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) fail(`${t} has unknown field(s) ${extra.join(', ')}`);
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BITS))
      fail(`${t} has unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BITS).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${t} shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${t} data_offsets must be [start, end] non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [start, end] = offsets as [number, number];
    if (end < start) fail(`${t} data_offsets [${start}, ${end}] end before start`);
    if (end > dataSize)
      fail(`${t} data_offsets [${start}, ${end}] out of range: the data section has ${dataSize} bytes`);
    const bits = (shape as number[]).reduce((a, d) => a * BigInt(d), 1n) * BigInt(DTYPE_BITS[dtype as string]!);
    if (bits % 8n !== 0n) fail(`${t} ${dtype} ${JSON.stringify(shape)} is not a whole number of bytes`);
    if (bits / 8n !== BigInt(end - start)) {
      fail(
        `${t} size mismatch: ${dtype} ${JSON.stringify(shape)} needs ${bits / 8n} bytes, data_offsets [${start}, ${end}] give ${end - start}`,
      );
    }
    tensors.push({ name, dtype: dtype as string, shape: shape as number[], start, end });
  }

  // The data section must be covered exactly: sorted, no overlap, no hole, nothing after the last tensor.
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  let prev: TensorInfo | undefined;
  for (const t of tensors) {
    const name = JSON.stringify(t.name);
    if (t.start < pos)
      fail(
        `tensor ${name} data_offsets [${t.start}, ${t.end}] overlap tensor ${JSON.stringify(prev!.name)} [${prev!.start}, ${prev!.end}]`,
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
  const header: Record<string, unknown> = {};
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
