// Safetensors index objects as a device sees them (`indexes/sha256/<file sha256>.json`). The format
// and the parser are src/formats/safetensors.ts's (the store writes the index at push time); a device reads
// the index as a hint only (it is not signed) and trusts nothing but the whole-file sha256.
import { describeJson, type IndexedTensor, quoteBounded, type SafetensorsIndex } from '../formats/safetensors.ts';

export type { SafetensorsIndex } from '../formats/safetensors.ts';

const HEX64 = /^[0-9a-f]{64}$/;

/** An index the device can use, or why not (the caller reports the reason and downloads whole). */
export type IndexCheck = { ok: true; index: SafetensorsIndex } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** An own property only: a name every object inherits (`constructor`, `__proto__`) is not a field. */
const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/**
 * Checks an index object (any JSON value) against the file it claims to describe; never throws. A bad
 * index is not an attack we must report, only a hint we cannot use: the reason says what is wrong.
 * `headerSize` is the JSON header length N, so tensor bytes lie in [8 + N, fileSize); as in a valid
 * safetensors file, the tensors, sorted, cover that range exactly. The index returned is a fresh copy
 * holding only the fields checked here, tensors sorted by offset.
 */
export function checkIndex(value: unknown, fileSize: number): IndexCheck {
  const no = (reason: string): IndexCheck => ({ ok: false, reason });
  if (!isObject(value)) return no(`the index is ${describeJson(value)}, not an object`);
  const format = own(value, 'format');
  if (format !== 'safetensors') return no(`format is ${describeJson(format)}, not "safetensors"`);
  const headerSize = own(value, 'headerSize');
  if (!isCount(headerSize) || headerSize < 2)
    return no(`headerSize must be an integer of at least 2, got ${describeJson(headerSize)}`);
  if (!isCount(fileSize) || 8 + headerSize > fileSize)
    return no(`headerSize ${headerSize} runs past the end of the ${fileSize}-byte file`);
  const list = own(value, 'tensors');
  if (!Array.isArray(list)) return no(`tensors must be a list, got ${describeJson(list)}`);

  const dataStart = 8 + headerSize;
  const tensors: IndexedTensor[] = [];
  for (let i = 0; i < list.length; i++) {
    const t: unknown = list[i];
    const at = `tensors[${i}]`;
    if (!isObject(t)) return no(`${at} must be an object, got ${describeJson(t)}`);
    const name = own(t, 'name');
    if (typeof name !== 'string') return no(`${at} name must be a string, got ${describeJson(name)}`);
    const field = (f: string, what: string, v: unknown) =>
      no(`${at} (${quoteBounded(name)}) ${f} must be ${what}, got ${describeJson(v)}`);
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
    if (end < start) return no(`${span} ends before it starts`);
    if (start < dataStart) return no(`${span} starts inside the header (tensor data starts at ${dataStart})`);
    if (end > fileSize) return no(`${span} ends past the end of the ${fileSize}-byte file`);
    tensors.push({ name, dtype, shape: [...shape], start, end, sha256 });
  }

  // Sorted, the tensors cover [dataStart, fileSize) exactly: no overlap, no hole, nothing after the last.
  tensors.sort((a, b) => a.start - b.start || a.end - b.end);
  let pos = dataStart;
  let prev: IndexedTensor | undefined;
  for (const t of tensors) {
    const span = `tensor ${quoteBounded(t.name)} [${t.start}, ${t.end})`;
    if (t.start < pos && prev)
      return no(`${span} overlaps tensor ${quoteBounded(prev.name)} [${prev.start}, ${prev.end})`);
    if (t.start > pos)
      return no(`bytes [${pos}, ${t.start}) before tensor ${quoteBounded(t.name)} belong to no tensor`);
    pos = t.end;
    if (t.end > t.start) prev = t;
  }
  if (pos !== fileSize) return no(`${fileSize - pos} bytes after the last tensor (the file has ${fileSize})`);
  return { ok: true, index: { format: 'safetensors', headerSize, tensors } };
}

/** checkIndex's index, or undefined when it is unusable (the caller downloads whole). */
export function validIndex(value: unknown, fileSize: number): SafetensorsIndex | undefined {
  const r = checkIndex(value, fileSize);
  return r.ok ? r.index : undefined;
}

/** Where the data section starts: the 8-byte length field plus the JSON header. */
export const dataStart = (index: Pick<SafetensorsIndex, 'headerSize'>): number => 8 + index.headerSize;
