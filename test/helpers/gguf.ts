// A GGUF writer for tests: every metadata value type (nested arrays included), every ggml tensor type,
// v2 or v3, any alignment, and the knobs a refusal test needs (counts, offsets, magic, byte order,
// trailing bytes). The layout is the one ggml's gguf.cpp writes: header, metadata, tensor infos, padding
// to the alignment, then each tensor's data padded to the alignment, in order.
import {
  type GgufArray,
  type GgufMetadataEntry,
  type GgufValue,
  type GgufValueType,
  GGUF_VALUE_TYPES,
} from '../../src/formats/gguf.ts';
import { type GgmlType, ggmlTensorBytes, ggmlTypeById, ggmlTypeByName } from '../../src/formats/ggml-types.ts';

/** A value as a test writes it: typed (`{ type: 'uint32', value: 7 }`) or plain, typed by `typeOf`. */
export type GgufWritable = GgufValue | string | number | bigint | boolean | string[] | number[] | bigint[] | boolean[];

export interface GgufTensorSpec {
  name: string;
  /** A ggml type name ('F32', 'Q8_0') or a numeric id (any u32: unknown ids are written as given). */
  type: number | string;
  /** ggml order: ne0 (the contiguous dimension) first. */
  dims: readonly (number | bigint)[];
  /** The tensor's bytes; defaults to deterministic bytes of the right size (small finite values for floats). */
  data?: Uint8Array;
  /** Offset relative to the data section, written as given (default: packed, each padded to the alignment). */
  offset?: number | bigint;
}

export interface GgufSpec {
  version?: number;
  /** The alignment of the data section; a value other than 32 adds `general.alignment` (uint32) unless given. */
  alignment?: number;
  metadata?: GgufMetadataEntry[] | Record<string, GgufWritable>;
  tensors?: GgufTensorSpec[];
  /** Overrides for refusal tests. */
  magic?: string;
  byteOrder?: 'little' | 'big';
  tensorCount?: number | bigint;
  metadataCount?: number | bigint;
  /** Pad the last tensor's data to the alignment, as gguf.cpp does (default true). */
  padEnd?: boolean;
  /** Bytes appended after everything else. */
  trailing?: Uint8Array;
}

/** The GGUF type a plain value is written as: integers as uint32 (int32 if negative, 64-bit if larger). */
export function typeOf(v: GgufWritable): GgufValue {
  if (typeof v === 'object' && !Array.isArray(v)) return v;
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'bigint') return v < 0n ? { type: 'int64', value: v } : { type: 'uint64', value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { type: 'float32', value: v };
    if (v >= 0 && v <= 0xffff_ffff) return { type: 'uint32', value: v };
    if (v < 0 && v >= -0x8000_0000) return { type: 'int32', value: v };
    return v < 0 ? { type: 'int64', value: BigInt(v) } : { type: 'uint64', value: BigInt(v) };
  }
  const items = v as unknown[];
  if (items.every((x) => typeof x === 'string')) return { type: 'array', itemType: 'string', value: items as string[] };
  if (items.every((x) => typeof x === 'boolean')) return { type: 'array', itemType: 'bool', value: items as boolean[] };
  if (items.every((x) => typeof x === 'bigint')) return { type: 'array', itemType: 'int64', value: items as bigint[] };
  if (items.every((x) => typeof x === 'number')) {
    const ints = (items as number[]).every((x) => Number.isInteger(x) && x >= -0x8000_0000 && x <= 0x7fff_ffff);
    return { type: 'array', itemType: ints ? 'int32' : 'float32', value: items as number[] };
  }
  throw new Error(`typeOf: a mixed array cannot be typed: ${JSON.stringify(items.slice(0, 4))}`);
}

const typeId = (t: GgufValueType): number => GGUF_VALUE_TYPES.indexOf(t);

/** Grows as it is written; numbers in the chosen byte order. */
class Writer {
  private buf = Buffer.alloc(4096);
  length = 0;
  private readonly le: boolean;
  constructor(littleEndian: boolean) {
    this.le = littleEndian;
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  private num(n: number, write: (b: Buffer, at: number) => void): void {
    this.room(n);
    write(this.buf, this.length);
    this.length += n;
  }
  u8 = (v: number) => this.num(1, (b, at) => b.writeUInt8(v & 0xff, at));
  i8 = (v: number) => this.num(1, (b, at) => b.writeInt8(v, at));
  u16 = (v: number) => this.num(2, (b, at) => (this.le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at)));
  i16 = (v: number) => this.num(2, (b, at) => (this.le ? b.writeInt16LE(v, at) : b.writeInt16BE(v, at)));
  u32 = (v: number) => this.num(4, (b, at) => (this.le ? b.writeUInt32LE(v >>> 0, at) : b.writeUInt32BE(v >>> 0, at)));
  i32 = (v: number) => this.num(4, (b, at) => (this.le ? b.writeInt32LE(v, at) : b.writeInt32BE(v, at)));
  f32 = (v: number) => this.num(4, (b, at) => (this.le ? b.writeFloatLE(v, at) : b.writeFloatBE(v, at)));
  f64 = (v: number) => this.num(8, (b, at) => (this.le ? b.writeDoubleLE(v, at) : b.writeDoubleBE(v, at)));
  u64 = (v: number | bigint) =>
    this.num(8, (b, at) => {
      const x = BigInt.asUintN(64, BigInt(v));
      if (this.le) b.writeBigUInt64LE(x, at);
      else b.writeBigUInt64BE(x, at);
    });
  i64 = (v: number | bigint) =>
    this.num(8, (b, at) => {
      const x = BigInt.asIntN(64, BigInt(v));
      if (this.le) b.writeBigInt64LE(x, at);
      else b.writeBigInt64BE(x, at);
    });
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.bytes(new Uint8Array(n));
  }
  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** One value's payload (no type tag). */
function writeItem(w: Writer, type: GgufValueType, v: unknown): void {
  switch (type) {
    case 'uint8':
      return w.u8(v as number);
    case 'int8':
      return w.i8(v as number);
    case 'uint16':
      return w.u16(v as number);
    case 'int16':
      return w.i16(v as number);
    case 'uint32':
      return w.u32(v as number);
    case 'int32':
      return w.i32(v as number);
    case 'float32':
      return w.f32(v as number);
    case 'float64':
      return w.f64(v as number);
    case 'uint64':
      return w.u64(v as bigint);
    case 'int64':
      return w.i64(v as bigint);
    case 'bool':
      return w.u8(v ? 1 : 0);
    case 'string':
      return w.str(v as string);
    case 'array': {
      const a = v as GgufArray;
      w.u32(typeId(a.itemType));
      w.u64(a.value.length);
      for (const item of a.value) writeItem(w, a.itemType, item);
      return;
    }
  }
}

function entriesOf(metadata: GgufSpec['metadata']): GgufMetadataEntry[] {
  if (metadata === undefined) return [];
  if (Array.isArray(metadata)) return metadata;
  return Object.entries(metadata).map(([key, v]) => ({ key, ...typeOf(v) }) as GgufMetadataEntry);
}

function typeOfTensor(t: GgufTensorSpec): GgmlType | undefined {
  if (typeof t.type === 'number') return ggmlTypeById(t.type);
  const found = ggmlTypeByName(t.type);
  if (!found) throw new Error(`encodeGguf: unknown ggml type name ${JSON.stringify(t.type)}`);
  return found;
}

/** IEEE half bits of a small value k/64 (|k| <= 64): exact, so no rounding code is needed. */
function halfBits(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  const mant = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mant;
}

/** Deterministic bytes for a tensor: small finite values for F32/F16/BF16/F64, a byte pattern otherwise. */
export function defaultTensorData(type: GgmlType | undefined, bytes: number, seed: number): Uint8Array {
  const out = Buffer.alloc(bytes);
  const value = (i: number): number => (((i * 7 + seed * 13) % 17) - 8) / 64;
  if (type?.name === 'F32') for (let i = 0; i + 4 <= bytes; i += 4) out.writeFloatLE(value(i / 4), i);
  else if (type?.name === 'F64') for (let i = 0; i + 8 <= bytes; i += 8) out.writeDoubleLE(value(i / 8), i);
  else if (type?.name === 'F16') for (let i = 0; i + 2 <= bytes; i += 2) out.writeUInt16LE(halfBits(value(i / 2)), i);
  else if (type?.name === 'BF16')
    for (let i = 0; i + 2 <= bytes; i += 2) {
      const f = Buffer.alloc(4);
      f.writeFloatLE(value(i / 2));
      out.writeUInt16LE(f.readUInt16LE(2), i);
    }
  else for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return out;
}

/** The bytes of a tensor's data as encodeGguf writes them by default (for tests comparing content). */
export function tensorByteSize(type: number | string, dims: readonly (number | bigint)[]): number {
  const t = typeof type === 'number' ? ggmlTypeById(type) : ggmlTypeByName(type);
  if (!t) throw new Error(`tensorByteSize: unknown ggml type ${JSON.stringify(type)}`);
  const n = ggmlTensorBytes(t, dims);
  if (n === undefined)
    throw new Error(`tensorByteSize: ne0 ${dims[0]} is not a multiple of ${t.name}'s block ${t.blockSize}`);
  return Number(n);
}

/** A GGUF file from a spec. Throws (a plain Error: a bug in the test) on a spec it cannot write. */
export function encodeGguf(spec: GgufSpec): Buffer {
  const w = new Writer(spec.byteOrder !== 'big');
  const entries = [...entriesOf(spec.metadata)];
  const given = entries.find((e) => e.key === 'general.alignment');
  if (spec.alignment !== undefined && spec.alignment !== 32 && !given)
    entries.unshift({ key: 'general.alignment', type: 'uint32', value: spec.alignment });
  const stated = spec.alignment ?? (given && typeof given.value === 'number' ? given.value : undefined) ?? 32;
  // A bad alignment (0, 3) is written as stated for refusal tests; the layout then uses 32.
  const alignment = Number.isInteger(stated) && stated > 0 ? stated : 32;
  const tensors = spec.tensors ?? [];

  w.bytes(Buffer.from(spec.magic ?? 'GGUF', 'latin1'));
  w.u32(spec.version ?? 3);
  w.u64(spec.tensorCount ?? tensors.length);
  w.u64(spec.metadataCount ?? entries.length);
  for (const e of entries) {
    w.str(e.key);
    w.u32(typeId(e.type));
    writeItem(w, e.type, e.type === 'array' ? e : e.value);
  }

  // Data: each tensor's bytes, at the running offset, padded to the alignment.
  const datas = tensors.map((t, i) => {
    if (t.data) return t.data;
    const type = typeOfTensor(t);
    const n = type ? ggmlTensorBytes(type, t.dims) : 0n;
    if (n === undefined)
      throw new Error(`encodeGguf: tensor ${t.name}: ne0 ${t.dims[0]} is not a multiple of the block size`);
    return defaultTensorData(type, Number(n), i);
  });
  let offset = 0;
  const offsets = datas.map((d) => {
    const at = offset;
    offset += d.length + ((alignment - (d.length % alignment)) % alignment);
    return at;
  });
  tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(typeof t.type === 'number' ? t.type : typeOfTensor(t)!.id);
    w.u64(t.offset ?? offsets[i]!);
  });
  w.pad(alignment);
  datas.forEach((d, i) => {
    w.bytes(d);
    if (i < datas.length - 1 || spec.padEnd !== false) w.pad(alignment);
  });
  if (spec.trailing) w.bytes(spec.trailing);
  return w.result();
}
