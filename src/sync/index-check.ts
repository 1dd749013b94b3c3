// Tensor index objects as a device sees them (`indexes/sha256/<file sha256>.json`). The shape is
// src/formats/tensor-index.ts's (the store writes it at push time); a device reads the index as a hint
// only (it is not signed) and trusts nothing but the whole-file sha256. Both stored versions are read:
// version 2 (safetensors or GGUF, regions + tensors) and version 1 (safetensors, headerSize + tensors).
import { describeJson, type IndexedTensor, MAX_HEADER_BYTES, quoteBounded } from '../formats/safetensors.ts';
import { type ByteRegion, INDEX_FORMATS, type IndexFormat, TENSOR_INDEX_VERSION } from '../formats/tensor-index.ts';

/** A checked index, normalised: every byte of the file in exactly one region or tensor, both sorted. */
export interface DeviceIndex {
  format: IndexFormat;
  /** The stored shape's version (1: safetensors before GGUF was indexed). */
  version: 1 | 2;
  /** The header region is [0, headerEnd): always fetched, and checked against the index before use. */
  headerEnd: number;
  /** safetensors: the JSON header length N (headerEnd = 8 + N). */
  headerSize?: number;
  regions: ByteRegion[];
  tensors: IndexedTensor[];
}

/** @deprecated the pre-GGUF name; the index is format-neutral now. */
export type SafetensorsIndex = DeviceIndex;

const HEX64 = /^[0-9a-f]{64}$/;

/** An index the device can use, or why not (the caller reports the reason and downloads whole). */
export type IndexCheck = { ok: true; index: DeviceIndex } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** An own property only: a name every object inherits (`constructor`, `__proto__`) is not a field. */
const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/**
 * The largest header region a device reads into memory to check it: safetensors' header limit plus its
 * 8-byte length (GGUF's limit, 64 MiB plus alignment padding, is below it).
 */
export const MAX_INDEX_HEADER_BYTES = 8 + MAX_HEADER_BYTES;

/**
 * Checks an index object (any JSON value) against the file it claims to describe (its size, and its
 * sha256 when the caller knows it); never throws. A bad index is not an attack we must report, only a
 * hint we cannot use: the reason says what is wrong. The index returned is a fresh copy holding only
 * the fields checked here. Work is linear in the index's size, which the caller caps (maxIndexBytes).
 */
export function checkIndex(value: unknown, fileSize: number, fileSha256?: string): IndexCheck {
  const no = (reason: string): IndexCheck => ({ ok: false, reason });
  if (!isObject(value)) return no(`the index is ${describeJson(value)}, not an object`);
  if (!isCount(fileSize)) return no(`the file size ${describeJson(fileSize)} is not a byte count`);
  const format = own(value, 'format');
  if (!INDEX_FORMATS.includes(format as IndexFormat))
    return no(`format is ${describeJson(format)}, not one of ${INDEX_FORMATS.map((f) => `"${f}"`).join(', ')}`);
  const version = own(value, 'version');
  const list = own(value, 'tensors');
  if (!Array.isArray(list)) return no(`tensors must be a list, got ${describeJson(list)}`);
  const tensors: IndexedTensor[] = [];
  for (let i = 0; i < list.length; i++) {
    const t = checkTensor(list[i], i, fileSize);
    if (typeof t === 'string') return no(t);
    tensors.push(t);
  }
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);

  let regions: ByteRegion[];
  let headerSize: number | undefined;
  if (version === undefined) {
    // Version 1: safetensors only; the header is [0, 8 + headerSize).
    if (format !== 'safetensors') return no(`a ${format} index must have a version, it has none`);
    const h = checkHeaderSize(own(value, 'headerSize'), fileSize);
    if (typeof h === 'string') return no(h);
    headerSize = h;
    regions = [{ kind: 'header', start: 0, end: 8 + h }];
  } else if (version === TENSOR_INDEX_VERSION) {
    const size = own(value, 'size');
    if (size !== fileSize) return no(`size is ${describeJson(size)}, the file has ${fileSize} bytes`);
    const sha256 = own(value, 'sha256');
    if (typeof sha256 !== 'string' || !HEX64.test(sha256))
      return no(`sha256 must be 64 lowercase hex digits, got ${describeJson(sha256)}`);
    if (fileSha256 !== undefined && sha256 !== fileSha256)
      return no(`the index describes the file with sha256 ${sha256}, not ${fileSha256}`);
    const r = checkRegions(own(value, 'regions'), fileSize);
    if (typeof r === 'string') return no(r);
    regions = r;
    if (format === 'safetensors') {
      const h = checkHeaderSize(own(value, 'headerSize'), fileSize);
      if (typeof h === 'string') return no(h);
      if (regions[0]!.end !== 8 + h)
        return no(`the header region ends at ${regions[0]!.end}, but headerSize ${h} puts it at ${8 + h}`);
      headerSize = h;
    }
  } else {
    return no(`version is ${describeJson(version)}; this device reads versions 1 and ${TENSOR_INDEX_VERSION}`);
  }

  if (regions[0]!.end > MAX_INDEX_HEADER_BYTES)
    return no(`the header region [0, ${regions[0]!.end}) is over the ${MAX_INDEX_HEADER_BYTES}-byte limit`);
  // Sorted together, regions and tensors cover [0, fileSize) exactly: no overlap, no hole, nothing after.
  const header = regions[0]!;
  const pieces = [
    ...regions.map((r) => ({ ...r, name: undefined })),
    ...tensors.map((t) => ({ ...t, kind: 'tensor' })),
  ].sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = 0;
  let prev: (typeof pieces)[number] | undefined;
  const label = (p: (typeof pieces)[number]) =>
    `${p.name === undefined ? `${p.kind} region` : `tensor ${quoteBounded(p.name)}`} [${p.start}, ${p.end})`;
  for (const p of pieces) {
    if (p.start < pos && prev) return no(`${label(p)} overlaps ${label(prev)}`);
    if (p.start > pos) return no(`bytes [${pos}, ${p.start}) before ${label(p)} belong to no region`);
    pos = p.end;
    if (p.end > p.start) prev = p;
  }
  if (pos !== fileSize) return no(`${fileSize - pos} bytes after the last region (the file has ${fileSize})`);
  const v = version === undefined ? 1 : 2;
  return {
    ok: true,
    index: {
      format: format as IndexFormat,
      version: v,
      headerEnd: header.end,
      ...(headerSize !== undefined ? { headerSize } : {}),
      regions,
      tensors,
    },
  };
}

function checkHeaderSize(headerSize: unknown, fileSize: number): number | string {
  if (!isCount(headerSize) || headerSize < 2)
    return `headerSize must be an integer of at least 2, got ${describeJson(headerSize)}`;
  if (8 + headerSize > fileSize) return `headerSize ${headerSize} runs past the end of the ${fileSize}-byte file`;
  return headerSize;
}

function checkTensor(t: unknown, i: number, fileSize: number): IndexedTensor | string {
  const at = `tensors[${i}]`;
  if (!isObject(t)) return `${at} must be an object, got ${describeJson(t)}`;
  const name = own(t, 'name');
  if (typeof name !== 'string') return `${at} name must be a string, got ${describeJson(name)}`;
  const field = (f: string, what: string, v: unknown) =>
    `${at} (${quoteBounded(name)}) ${f} must be ${what}, got ${describeJson(v)}`;
  const dtype = own(t, 'dtype');
  if (typeof dtype !== 'string') return field('dtype', 'a string', dtype);
  const shape = own(t, 'shape');
  if (!Array.isArray(shape) || !shape.every(isCount)) return field('shape', 'a list of non-negative integers', shape);
  const start = own(t, 'start');
  if (!isCount(start)) return field('start', 'a non-negative integer', start);
  const end = own(t, 'end');
  if (!isCount(end)) return field('end', 'a non-negative integer', end);
  const sha256 = own(t, 'sha256');
  if (typeof sha256 !== 'string' || !HEX64.test(sha256)) return field('sha256', '64 lowercase hex digits', sha256);
  const span = `tensor ${quoteBounded(name)} [${start}, ${end})`;
  if (end < start) return `${span} ends before it starts`;
  if (end > fileSize) return `${span} ends past the end of the ${fileSize}-byte file`;
  return { name, dtype, shape: [...shape], start, end, sha256 };
}

function checkRegions(list: unknown, fileSize: number): ByteRegion[] | string {
  if (!Array.isArray(list) || list.length === 0) return `regions must be a non-empty list, got ${describeJson(list)}`;
  const out: ByteRegion[] = [];
  for (let i = 0; i < list.length; i++) {
    const r: unknown = list[i];
    const at = `regions[${i}]`;
    if (!isObject(r)) return `${at} must be an object, got ${describeJson(r)}`;
    const kind = own(r, 'kind');
    if (kind !== 'header' && kind !== 'padding')
      return `${at} kind must be "header" or "padding", got ${describeJson(kind)}`;
    if ((kind === 'header') !== (i === 0)) return `${at}: the header must be the first region and the only one`;
    const start = own(r, 'start');
    const end = own(r, 'end');
    if (!isCount(start) || !isCount(end) || end < start)
      return `${at} must have integer start <= end, got start ${describeJson(start)} end ${describeJson(end)}`;
    if (i === 0 && (start !== 0 || end === 0)) return `${at}: the header region must start at 0 and hold bytes`;
    if (end > fileSize) return `${at} [${start}, ${end}) ends past the end of the ${fileSize}-byte file`;
    const zero = own(r, 'zero');
    if (zero !== undefined && (zero !== true || kind !== 'padding'))
      return `${at} zero may only be true, on a padding region; got ${describeJson(zero)} on a ${kind} region`;
    const sha256 = own(r, 'sha256');
    if (sha256 !== undefined && (typeof sha256 !== 'string' || !HEX64.test(sha256) || kind !== 'header'))
      return `${at} sha256 may only be 64 lowercase hex digits, on the header region; got ${describeJson(sha256)} on a ${kind} region`;
    out.push({ kind, start, end, ...(zero ? { zero } : {}), ...(sha256 ? { sha256 } : {}) });
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** checkIndex's index, or undefined when it is unusable (the caller downloads whole). */
export function validIndex(value: unknown, fileSize: number, fileSha256?: string): DeviceIndex | undefined {
  const r = checkIndex(value, fileSize, fileSha256);
  return r.ok ? r.index : undefined;
}
