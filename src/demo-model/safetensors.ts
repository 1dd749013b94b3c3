// Minimal safetensors for F32 tensors: the writer matches the reference layout (u64 LE header length,
// JSON header padded to 8 bytes, tensors back to back); the reader checks every offset and shape
// before trusting the bytes, and names the file and tensor in its errors.
export interface F32Tensor { shape: number[]; data: Float32Array }

const MAX_HEADER = 16 * 1024 * 1024;

export function writeSafetensors(tensors: { name: string; shape: number[]; data: Float32Array }[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  // Float32Array bytes are little-endian on every platform Node supports.
  return Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

export function readSafetensors(bytes: Buffer, file = 'model.safetensors'): Map<string, F32Tensor> {
  if (bytes.length < 8) throw new Error(`${file}: too short to be a safetensors file (${bytes.length} bytes)`);
  const n = bytes.readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) throw new Error(`${file}: header length ${n} is larger than the file allows`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + Number(n)).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: header is not valid JSON: ${(e as Error).message}`);
  }
  const dataStart = 8 + Number(n);
  const dataLen = bytes.length - dataStart;
  const out = new Map<string, F32Tensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t.dtype !== 'F32') throw new Error(`${file}: tensor ${name}: dtype ${String(t.dtype)} is not supported (F32 only)`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${file}: tensor ${name}: shape must be a list of non-negative integers`);
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) throw new Error(`${file}: tensor ${name}: data_offsets must be [begin, end]`);
    const [b, e] = offs as [number, number];
    const count = (t.shape as number[]).reduce((a, d) => a * d, 1);
    if (e < b || e > dataLen || e - b !== count * 4) throw new Error(`${file}: tensor ${name}: data_offsets [${b}, ${e}] do not fit shape [${(t.shape as number[]).join(', ')}] within ${dataLen} data bytes`);
    // Copy so the Float32Array is aligned regardless of the header's length.
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(bytes.subarray(dataStart + b, dataStart + e));
    out.set(name, { shape: t.shape as number[], data });
  }
  return out;
}
