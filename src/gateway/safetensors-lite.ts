// A minimal, strict safetensors reader: just enough for the built-in loader to get F32 tensors.
// Kept small and self-contained on purpose so src/safetensors.ts can replace it (same checks:
// bounded header, well-formed entries, offsets inside the file, contiguous and non-overlapping data).
const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024; // the reference implementation's limit

export interface LiteTensor { dtype: string; shape: number[]; data: Buffer }

export class SafetensorsError extends Error {
  constructor(message: string) { super(message); this.name = 'SafetensorsError'; }
}

export function readSafetensors(file: Buffer, name = 'safetensors file'): Map<string, LiteTensor> {
  const bad = (why: string) => new SafetensorsError(`${name}: ${why}`);
  if (file.length < 8) throw bad('shorter than the 8-byte header length');
  const headerLen = file.readBigUInt64LE(0);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, file.length - 8))) throw bad(`header length ${headerLen} exceeds the file or the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(file.subarray(8, dataStart).toString('utf8'));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataLen = file.length - dataStart;
  const spans: [number, number, string][] = [];
  const out = new Map<string, LiteTensor>();
  for (const [tensorName, raw] of Object.entries(header as Record<string, unknown>)) {
    if (tensorName === '__metadata__') continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) throw bad(`tensor "${tensorName}" is not an object`);
    const size = typeof t.dtype === 'string' ? DTYPE_BYTES[t.dtype] : undefined;
    if (size === undefined) throw bad(`tensor "${tensorName}" has unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor "${tensorName}" has an invalid shape`);
    const o = t.data_offsets;
    if (!Array.isArray(o) || o.length !== 2 || !o.every((x) => Number.isSafeInteger(x) && x >= 0) || o[0] > o[1] || o[1] > dataLen) {
      throw bad(`tensor "${tensorName}" has data_offsets outside the data section (${dataLen} bytes)`);
    }
    const [begin, end] = o as [number, number];
    const elements = (t.shape as number[]).reduce((a, b) => a * b, 1);
    if (elements * size !== end - begin) throw bad(`tensor "${tensorName}": shape [${t.shape.join(', ')}] of ${t.dtype} needs ${elements * size} bytes, offsets give ${end - begin}`);
    spans.push([begin, end, tensorName]);
    out.set(tensorName, { dtype: t.dtype as string, shape: t.shape as number[], data: file.subarray(dataStart + begin, dataStart + end) });
  }
  // The data section must be exactly the tensors, back to back: no gaps that could hide bytes, no overlaps.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, tensorName] of spans) {
    if (begin !== at) throw bad(begin < at ? `tensor "${tensorName}" overlaps the previous tensor` : `gap of ${begin - at} bytes before tensor "${tensorName}"`);
    at = end;
  }
  if (at !== dataLen) throw bad(`${dataLen - at} trailing bytes after the last tensor`);
  return out;
}

/** A tensor's values as a Float32Array (copied: file offsets need not be 4-byte aligned). */
export function f32(t: LiteTensor, name: string): Float32Array {
  if (t.dtype !== 'F32') throw new SafetensorsError(`tensor "${name}" is ${t.dtype}; this loader computes in F32 only`);
  const out = new Float32Array(t.data.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = t.data.readFloatLE(i * 4);
  return out;
}
