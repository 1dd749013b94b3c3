import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  GGML_TYPE_COUNT,
  GGML_TYPES,
  ggmlTypeById,
  ggmlTypeByName,
  LLAMA_FILE_TYPES,
  REMOVED_GGML_TYPES,
} from '../../src/formats/ggml-types.ts';
import {
  type GgufArray,
  type GgufHeader,
  type GgufMetadataEntry,
  ggufFacts,
  isGguf,
  MAX_GGUF_HEADER_BYTES,
  parseGguf,
  readGgufHeader,
} from '../../src/formats/gguf.ts';
import { isLfsPointer, lfsPointerError, readLfsPointer } from '../../src/formats/lfs.ts';
import { UserError } from '../../src/lib/errors.ts';
import { tempDir } from '../helpers/files.ts';
import { encodeGguf, type GgufSpec, tensorByteSize } from '../helpers/gguf.ts';

const F = 'model.gguf';
let dir: string;
beforeAll(async () => {
  dir = await tempDir('gguf');
});

const parse = (b: Uint8Array, source = F): GgufHeader => parseGguf(b, b.length, source);
/** The UserError a file is refused with (a test failure if it is accepted or throws anything else). */
function refusal(b: Uint8Array, source = F): string {
  try {
    parse(b, source);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    return e.message;
  }
  throw new Error('accepted');
}
const refused = (spec: GgufSpec): string => refusal(encodeGguf(spec));

/** An independent GGUF reader: node-llama-cpp's, when that optional engine is installed. */
// The optional package through a non-literal specifier: the default install has no node-llama-cpp and
// must still type-check. Only the reader this test uses is typed.
interface GgufReader {
  readGgufFileInfo(
    path: string,
    o: { readTensorInfo: boolean; logWarnings: boolean },
  ): Promise<{
    tensorInfo?: { name: string; dimensions: (number | bigint)[]; ggmlType: number; fileOffset: number | bigint }[];
    metadata: { tokenizer?: { ggml?: { tokens?: string[] } }; general?: { architecture?: string } };
  }>;
}
const OPTIONAL_ENGINE: string = 'node-llama-cpp';
const nodeLlamaCpp = (await import(OPTIONAL_ENGINE).catch(() => undefined)) as GgufReader | undefined;

const TINY: GgufSpec = {
  metadata: { 'general.architecture': 'llama', 'general.name': 'tiny', 'llama.context_length': 128 },
  tensors: [
    { name: 'token_embd.weight', type: 'Q8_0', dims: [64, 8] },
    { name: 'blk.0.attn_norm.weight', type: 'F32', dims: [64] },
    { name: 'output.weight', type: 'Q4_K', dims: [256, 2] },
  ],
};

// Every value type at its edges: the writer's typing is explicit, the parser must give the same back.
const EVERY_TYPE: GgufMetadataEntry[] = [
  { key: 'u8', type: 'uint8', value: 255 },
  { key: 'i8', type: 'int8', value: -128 },
  { key: 'u16', type: 'uint16', value: 65535 },
  { key: 'i16', type: 'int16', value: -32768 },
  { key: 'u32', type: 'uint32', value: 0xffff_ffff },
  { key: 'i32', type: 'int32', value: -0x8000_0000 },
  { key: 'f32', type: 'float32', value: 1.5 },
  { key: 'f64', type: 'float64', value: Math.PI },
  { key: 'bool.t', type: 'bool', value: true },
  { key: 'bool.f', type: 'bool', value: false },
  { key: 'str', type: 'string', value: 'héllo ✓ 𝄞' },
  { key: 'str.empty', type: 'string', value: '' },
  { key: 'u64', type: 'uint64', value: 2n ** 64n - 1n },
  { key: 'i64', type: 'int64', value: -(2n ** 63n) },
  { key: 'a.u8', type: 'array', itemType: 'uint8', value: [0, 1, 255] },
  { key: 'a.i16', type: 'array', itemType: 'int16', value: [-1, 2] },
  { key: 'a.u32', type: 'array', itemType: 'uint32', value: [7] },
  { key: 'a.i32', type: 'array', itemType: 'int32', value: [1, 2, 3] },
  { key: 'a.f32', type: 'array', itemType: 'float32', value: [0.25, -2] },
  { key: 'a.f64', type: 'array', itemType: 'float64', value: [1e300] },
  { key: 'a.bool', type: 'array', itemType: 'bool', value: [true, false] },
  { key: 'a.str', type: 'array', itemType: 'string', value: ['<s>', '', '▁the'] },
  { key: 'a.u64', type: 'array', itemType: 'uint64', value: [1n, 2n ** 64n - 1n] },
  { key: 'a.i64', type: 'array', itemType: 'int64', value: [-1n] },
  { key: 'a.empty', type: 'array', itemType: 'float32', value: [] },
  {
    key: 'a.nested',
    type: 'array',
    itemType: 'array',
    value: [
      { type: 'array', itemType: 'string', value: ['x', 'y'] },
      { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'int8', value: [-5] }] },
      { type: 'array', itemType: 'uint16', value: [] },
    ] as GgufArray[],
  },
];

describe('GGUF: round trips', () => {
  it('reads back every metadata value type, at its edges, in file order', () => {
    const h = parse(encodeGguf({ metadata: EVERY_TYPE, tensors: [] }));
    expect([...h.metadata.keys()]).toEqual(EVERY_TYPE.map((e) => e.key));
    for (const { key, ...value } of EVERY_TYPE) expect([key, h.metadata.get(key)]).toEqual([key, value]);
    expect(h.tensors).toEqual([]);
    expect(h.dataStart % 32).toBe(0);
  });

  it('types plain values as the writer documents (uint32, int32, float32, string arrays, int32 arrays)', () => {
    const h = parse(
      encodeGguf({ metadata: { n: 7, neg: -3, f: 0.5, s: 'x', b: true, big: 2n ** 40n, toks: ['a'], ids: [1, -1] } }),
    );
    expect(Object.fromEntries([...h.metadata].map(([k, v]) => [k, v.type === 'array' ? v.itemType : v.type]))).toEqual({
      n: 'uint32',
      neg: 'int32',
      f: 'float32',
      s: 'string',
      b: 'bool',
      big: 'uint64',
      toks: 'string',
      ids: 'int32',
    });
  });

  it('keeps prototype names as plain keys', () => {
    const h = parse(
      encodeGguf({
        metadata: [
          { key: '__proto__', type: 'string', value: 'x' },
          { key: 'constructor', type: 'uint8', value: 1 },
          { key: 'toString', type: 'bool', value: true },
        ],
      }),
    );
    expect([...h.metadata.keys()].sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(h.metadata.get('__proto__')).toEqual({ type: 'string', value: 'x' });
  });

  it('matches the ggml block sizes for every type (values from ggml-common.h, written out here)', () => {
    // [name, id, elements per block, bytes per block]: the block structs of ggml-common.h, counted by hand.
    const expected: [string, number, number, number][] = [
      ['F32', 0, 1, 4],
      ['F16', 1, 1, 2],
      ['Q4_0', 2, 32, 18],
      ['Q4_1', 3, 32, 20],
      ['Q5_0', 6, 32, 22],
      ['Q5_1', 7, 32, 24],
      ['Q8_0', 8, 32, 34],
      ['Q8_1', 9, 32, 36],
      ['Q2_K', 10, 256, 84],
      ['Q3_K', 11, 256, 110],
      ['Q4_K', 12, 256, 144],
      ['Q5_K', 13, 256, 176],
      ['Q6_K', 14, 256, 210],
      ['Q8_K', 15, 256, 292],
      ['IQ2_XXS', 16, 256, 66],
      ['IQ2_XS', 17, 256, 74],
      ['IQ3_XXS', 18, 256, 98],
      ['IQ1_S', 19, 256, 50],
      ['IQ4_NL', 20, 32, 18],
      ['IQ3_S', 21, 256, 110],
      ['IQ2_S', 22, 256, 82],
      ['IQ4_XS', 23, 256, 136],
      ['I8', 24, 1, 1],
      ['I16', 25, 1, 2],
      ['I32', 26, 1, 4],
      ['I64', 27, 1, 8],
      ['F64', 28, 1, 8],
      ['IQ1_M', 29, 256, 56],
      ['BF16', 30, 1, 2],
      ['TQ1_0', 34, 256, 54],
      ['TQ2_0', 35, 256, 66],
      ['MXFP4', 39, 32, 17],
      ['NVFP4', 40, 64, 36],
      ['Q1_0', 41, 128, 18],
      ['Q2_0', 42, 64, 18],
    ];
    expect(GGML_TYPES.map((t) => [t.name, t.id, t.blockSize, t.typeSize])).toEqual(expected);
    expect(GGML_TYPE_COUNT).toBe(43);
    for (const id of [4, 5, 31, 32, 33, 36, 37, 38]) expect(REMOVED_GGML_TYPES.has(id)).toBe(true);
    expect(ggmlTypeById(99)).toBeUndefined();
    expect(ggmlTypeByName('toString')).toBeUndefined();
    expect(LLAMA_FILE_TYPES.get(15)).toBe('MOSTLY_Q4_K_M');
  });

  it('sizes a tensor of every type as ne0 / block * bytes * ne1 * ne2 * ne3, and places it at its offset', () => {
    const tensors = GGML_TYPES.map((t, i) => ({ name: `t.${t.name}`, type: t.name, dims: [t.blockSize * 2, 3, 1, 2] }));
    const b = encodeGguf({ tensors });
    const h = parse(b);
    let offset = h.dataStart;
    GGML_TYPES.forEach((t, i) => {
      const got = h.tensors[i]!;
      expect(got).toEqual({
        name: `t.${t.name}`,
        type: t.id,
        typeName: t.name,
        dims: [t.blockSize * 2, 3, 1, 2],
        elements: t.blockSize * 12,
        offset,
        size: 2 * t.typeSize * 3 * 2,
      });
      offset += Math.ceil(got.size / 32) * 32;
    });
    expect(offset).toBe(b.length);
  });

  it('refuses ne0 not a multiple of the block size, for every quantized type', () => {
    for (const t of GGML_TYPES.filter((x) => x.blockSize > 1))
      expect(
        refused({ tensors: [{ name: 'w', type: t.name, dims: [t.blockSize + 1], data: new Uint8Array(0) }] }),
      ).toBe(
        `${F}: invalid GGUF: tensor "w" (#0): ne[0] ${t.blockSize + 1} is not a multiple of ${t.name}'s block size ${t.blockSize}`,
      );
  });

  it('reads v2 and v3 files alike', () => {
    for (const version of [2, 3] as const) {
      const h = parse(encodeGguf({ ...TINY, version }));
      expect(h.version).toBe(version);
      expect(h.tensors.map((t) => t.name)).toEqual(['token_embd.weight', 'blk.0.attn_norm.weight', 'output.weight']);
    }
  });

  it('honours general.alignment: data start and every offset on the stated boundary', () => {
    for (const alignment of [1, 2, 8, 32, 64, 256, 4096]) {
      const b = encodeGguf({ ...TINY, alignment });
      const h = parse(b);
      expect(h.alignment).toBe(alignment);
      expect(h.dataStart % alignment).toBe(0);
      expect(h.dataStart - h.headerBytes).toBeLessThan(alignment);
      for (const t of h.tensors) expect((t.offset - h.dataStart) % alignment).toBe(0);
      const last = h.tensors[h.tensors.length - 1]!;
      expect(b.length - (last.offset + last.size)).toBeLessThan(alignment);
    }
  });

  it('accepts a last tensor without its padding, and a file with no tensors and no padding', () => {
    expect(parse(encodeGguf({ ...TINY, padEnd: false })).tensors).toHaveLength(3);
    const h = parse(encodeGguf({ metadata: { a: 1 } }).subarray(0, 24 + 8 + 1 + 4 + 4));
    expect([h.headerBytes, h.tensors.length]).toEqual([41, 0]);
  });

  it.skipIf(!nodeLlamaCpp)('an independent reader (node-llama-cpp) reads the writer’s files the same way', async () => {
    const b = encodeGguf({
      ...TINY,
      alignment: 64,
      metadata: {
        ...(TINY.metadata as object),
        'tokenizer.ggml.tokens': ['<s>', 'a'],
        'tokenizer.ggml.scores': [0, -1.5],
      },
    });
    const p = join(dir, 'oracle.gguf');
    await writeFile(p, b);
    const info = await nodeLlamaCpp!.readGgufFileInfo(p, { readTensorInfo: true, logWarnings: false });
    const h = parse(b);
    expect(info.tensorInfo?.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType, Number(t.fileOffset)])).toEqual(
      h.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
    );
    expect(info.metadata.tokenizer?.ggml?.tokens).toEqual(['<s>', 'a']);
    expect(info.metadata.general?.architecture).toBe('llama');
  });
});

describe('GGUF: refusals', () => {
  const valid = encodeGguf({ ...TINY, metadata: { ...(TINY.metadata as object), toks: ['a', 'bc'] } });
  const header = parse(valid);

  it('refuses every truncation, as a UserError naming the file', () => {
    for (let n = 0; n < valid.length; n++) {
      const m = refusal(valid.subarray(0, n));
      expect(m.startsWith(`${F}: invalid GGUF: `)).toBe(true);
      if (n >= 4 && n < header.headerBytes) expect(m).toMatch(/truncated|only \d+ remain|more than the whole file/);
      if (n >= header.dataStart) expect(m).toMatch(/out of bounds: the file has \d+ bytes|more than the whole file/);
    }
    const small = encodeGguf({
      metadata: { 'general.name': 'tiny' },
      tensors: [{ name: 'w', type: 'F32', dims: [1] }],
    });
    const end = parse(small).headerBytes;
    expect(refusal(small.subarray(0, end - 3))).toBe(
      `${F}: invalid GGUF: truncated: tensor "w" (#0): offset needs 8 bytes at offset ${end - 8}, the file ends at ${end - 3}`,
    );
    expect(refusal(valid.subarray(0, 30))).toBe(
      `${F}: invalid GGUF: 4 metadata entries and 3 tensors need at least 155 bytes, only 6 remain after the header: the file is truncated or the counts are wrong`,
    );
  });

  it('refuses a bad magic, a legacy GGJT file, version 1, other versions and a big-endian file', () => {
    expect(refused({ ...TINY, magic: 'GGUG' })).toBe(
      `${F}: invalid GGUF: the file does not start with the magic "GGUF" (it starts with 47 47 55 47): not a GGUF file`,
    );
    expect(refused({ ...TINY, magic: 'tjgg' })).toMatch(/legacy GGJT file \(before GGUF\)/);
    expect(refused({ ...TINY, version: 1 })).toBe(
      `${F}: invalid GGUF: GGUF version 1 (the 2023 draft, 32-bit counts) is not supported: re-convert the model with a current llama.cpp`,
    );
    expect(refused({ ...TINY, version: 4 })).toBe(
      `${F}: invalid GGUF: unsupported GGUF version 4 (versions 2 and 3 are read)`,
    );
    expect(refused({ ...TINY, byteOrder: 'big' })).toBe(
      `${F}: invalid GGUF: this is a big-endian GGUF (version 3 written big-endian): only little-endian files are read; convert it with gguf-py's gguf_convert_endian.py`,
    );
  });

  it('refuses counts and lengths larger than the file before allocating anything', () => {
    expect(refused({ ...TINY, tensorCount: 2n ** 64n - 1n })).toBe(
      `${F}: invalid GGUF: 18446744073709551615 tensors: more than the limit of 1048576 (MAX_GGUF_TENSORS)`,
    );
    expect(refused({ ...TINY, metadataCount: 2n ** 63n })).toBe(
      `${F}: invalid GGUF: 9223372036854775808 metadata entries: more than the limit of 65536 (MAX_GGUF_METADATA_ENTRIES)`,
    );
    expect(refused({ ...TINY, tensorCount: 1000 })).toMatch(
      /: invalid GGUF: 3 metadata entries and 1000 tensors need at least 33\d\d\d bytes, only \d+ remain after the header: the file is truncated or the counts are wrong$/,
    );
    // A string array whose length field says 2^32 - 1 items: the brief's example, at the exact bytes.
    const b = encodeGguf({
      metadata: [{ key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: ['a'] }],
    });
    const at = 24 + 8 + 21 + 4 + 4; // header, key length, key, value type, item type
    b.writeBigUInt64LE(0xffff_ffffn, at);
    expect(refusal(b)).toBe(
      `${F}: invalid GGUF: metadata key #0 "tokenizer.ggml.tokens": array length 4294967295 needs at least 34359738360 bytes, only ${b.length - at - 8} remain (length at offset ${at})`,
    );
    const s = encodeGguf({ metadata: { k: 'abc' } });
    s.writeBigUInt64LE(2n ** 64n - 1n, 24 + 8 + 1 + 4);
    expect(refusal(s)).toMatch(
      /metadata key #0 "k": value length 18446744073709551615 needs at least 18446744073709551615 bytes/,
    );
  });

  it('refuses a header above the limit and more array items than the limit', async () => {
    expect(MAX_GGUF_HEADER_BYTES).toBe(64 * 1024 * 1024);
    const b = encodeGguf({ metadata: { toks: Array.from({ length: 300 }, (_, i) => `t${i}`) } });
    expect(() => parseGguf(b, b.length, F, { maxHeaderBytes: 1000 })).toThrow(
      /metadata key #0 "toks": the header runs past 1000 B \(offset \d+\), the limit on GGUF headers \(MAX_GGUF_HEADER_BYTES\)/,
    );
    expect(() => parseGguf(b, b.length, F, { maxArrayItems: 299 })).toThrow(
      `${F}: invalid GGUF: metadata key #0 "toks": array length 300 brings the metadata past 299 array items, the limit (MAX_GGUF_ARRAY_ITEMS)`,
    );
    const p = join(dir, 'limit.gguf');
    await writeFile(p, b);
    await expect(readGgufHeader(p, { maxHeaderBytes: 1000 })).rejects.toThrow(/the limit on GGUF headers/);
  });

  it('refuses overlapping, misaligned, gapped and out-of-bounds tensors', () => {
    const two = (o: number | bigint, extra: Partial<GgufSpec> = {}) =>
      refused({
        tensors: [
          { name: 'a', type: 'F32', dims: [16] },
          { name: 'b', type: 'F32', dims: [16], offset: o },
        ],
        ...extra,
      });
    expect(two(32)).toBe(
      `${F}: invalid GGUF: tensor "b" (#1): offset 32 overlaps tensor "a" (#0) at 0..64 (tensors follow each other in order, each padded to the alignment 32: expected offset 64)`,
    );
    expect(two(0)).toMatch(/tensor "b" \(#1\): offset 0 overlaps tensor "a" \(#0\)/);
    expect(two(65)).toBe(`${F}: invalid GGUF: tensor "b" (#1): offset 65 is not a multiple of the alignment 32`);
    expect(two(96, { trailing: new Uint8Array(32) })).toBe(
      `${F}: invalid GGUF: tensor "b" (#1): offset 96 leaves a gap of 32 bytes after tensor "a" (#0) (tensors follow each other in order, each padded to the alignment 32: expected offset 64)`,
    );
    expect(two(2n ** 64n - 32n)).toMatch(
      /tensor "b" \(#1\): its 64 bytes at offset 18446744073709551584 \(file bytes \d+\.\.\d+\) are out of bounds: the file has \d+ bytes/,
    );
    expect(
      refused({ tensors: [{ name: 'a', type: 'F32', dims: [16], data: new Uint8Array(60) }], padEnd: false }),
    ).toMatch(/tensor "a" \(#0\): its 64 bytes at offset 0 \(file bytes \d+\.\.\d+\) are out of bounds/);
    expect(
      refused({ tensors: [{ name: 'huge', type: 'Q8_0', dims: [2n ** 62n, 2n ** 62n], data: new Uint8Array() }] }),
    ).toMatch(
      /tensor "huge" \(#0\): Q8_0 \[4611686018427387904, 4611686018427387904\] needs \d+ bytes, more than the whole file/,
    );
  });

  it('refuses bytes after the last tensor beyond its padding (the stated tolerance: alignment - 1 bytes)', () => {
    const spec: GgufSpec = { tensors: [{ name: 'a', type: 'F32', dims: [3] }], padEnd: false };
    const base = encodeGguf(spec);
    expect(parse(Buffer.concat([base, new Uint8Array(20)])).tensors).toHaveLength(1); // 12 + 20 = 32: padding
    expect(refusal(Buffer.concat([base, new Uint8Array(21)]))).toMatch(
      /: invalid GGUF: 1 bytes after the last tensor "a" \(it ends at \d+, padded to \d+\): the file has \d+ bytes; no tensor describes them$/,
    );
    expect(refused({ metadata: { a: 1 }, trailing: new Uint8Array(64) })).toMatch(/64 bytes after the header/);
  });

  it('refuses unknown and removed ggml types naming the id and the tensor', () => {
    expect(refused({ tensors: [{ name: 'w', type: 99, dims: [4], data: new Uint8Array(16) }] })).toBe(
      `${F}: invalid GGUF: tensor "w" (#0): ggml type 99 is unknown (offset ${24 + 8 + 1 + 4 + 8}; known ids 0..42)`,
    );
    expect(refused({ tensors: [{ name: 'w', type: 31, dims: [32], data: new Uint8Array(18) }] })).toBe(
      `${F}: invalid GGUF: tensor "w" (#0): ggml type 31 is Q4_0_4_4 (removed from GGUF files: use Q4_0, repacked at load time)`,
    );
  });

  it('refuses duplicate keys and tensor names, empty names, bad dims and over-long names', () => {
    expect(
      refused({
        metadata: [
          { key: 'k', type: 'uint8', value: 1 },
          { key: 'j', type: 'uint8', value: 1 },
          { key: 'k', type: 'string', value: 'x' },
        ],
      }),
    ).toBe(`${F}: invalid GGUF: metadata key #2 "k": duplicate key (first at metadata key #0)`);
    const t = (name: string, dims: number[] = [4]) => ({ name, type: 'F32', dims });
    expect(refused({ tensors: [t('a'), t('b'), t('a')] })).toBe(
      `${F}: invalid GGUF: tensor "a" (#2): duplicate tensor name (first at tensor #0)`,
    );
    expect(refused({ tensors: [t('')] })).toBe(`${F}: invalid GGUF: tensor #0: the name is empty`);
    expect(refused({ metadata: { '': 1 } })).toBe(`${F}: invalid GGUF: metadata key #0: the key is empty`);
    expect(refused({ tensors: [{ ...t('a'), dims: [], data: new Uint8Array(4) }] })).toBe(
      `${F}: invalid GGUF: tensor "a" (#0): 0 dimensions, ggml allows 1 to 4`,
    );
    expect(refused({ tensors: [t('a', [1, 1, 1, 1, 1])] })).toMatch(/5 dimensions, ggml allows 1 to 4/);
    expect(refused({ tensors: [t('a', [4, 0])] })).toBe(
      `${F}: invalid GGUF: tensor "a" (#0): ne[1] is 0: every dimension must be at least 1`,
    );
    expect(refused({ tensors: [t('x'.repeat(64))] })).toMatch(
      /the name is 64 bytes, ggml allows at most 63 \(GGML_MAX_NAME\)/,
    );
    expect(parse(encodeGguf({ tensors: [t('x'.repeat(63))] })).tensors[0]!.name).toHaveLength(63);
  });

  it('refuses invalid UTF-8, unknown value types, bools other than 0/1, deep nesting and a bad alignment', () => {
    const bad = encodeGguf({ metadata: { kéy: 1 } });
    bad[24 + 8 + 1] = 0xff; // the first byte of "é"
    expect(refusal(bad)).toBe(`${F}: invalid GGUF: metadata key #0: key at offset 32 is not valid UTF-8`);
    const vt = encodeGguf({ metadata: { k: 1 } });
    vt.writeUInt32LE(13, 24 + 8 + 1);
    expect(refusal(vt)).toBe(
      `${F}: invalid GGUF: metadata key #0 "k": unknown value type 13 at offset 33 (known: 0..12)`,
    );
    const b = encodeGguf({ metadata: { flag: true } });
    b[24 + 8 + 4 + 4] = 2;
    expect(refusal(b)).toBe(
      `${F}: invalid GGUF: metadata key #0 "flag": value at offset 40 is a bool of value 2, not 0 or 1`,
    );
    let deep: GgufArray = { type: 'array', itemType: 'uint8', value: [1] };
    for (let i = 0; i < 8; i++) deep = { type: 'array', itemType: 'array', value: [deep] };
    expect(refused({ metadata: [{ key: 'deep', ...deep }] })).toMatch(/"deep": arrays nested deeper than 8 levels/);
    expect(refused({ metadata: { 'general.alignment': { type: 'uint32', value: 0 } } })).toBe(
      `${F}: invalid GGUF: metadata key #0 "general.alignment": 0 is not a power of two`,
    );
    expect(refused({ metadata: { 'general.alignment': { type: 'uint32', value: 48 } } })).toMatch(
      /48 is not a power of two/,
    );
    expect(refused({ metadata: { 'general.alignment': { type: 'uint64', value: 32n } } })).toBe(
      `${F}: invalid GGUF: metadata key #0 "general.alignment": must be a uint32, got a uint64`,
    );
  });

  it('refuses a git-LFS pointer with what to do, and random bytes named .gguf', async () => {
    const pointer = Buffer.from(
      `version https://git-lfs.github.com/spec/v1\noid sha256:${'ab'.repeat(32)}\nsize 4368438944\n`,
    );
    expect(pointer.length).toBe(135); // the size of the pointer the issue saw accepted as a model
    expect(isLfsPointer(pointer)).toBe(true);
    expect(readLfsPointer(pointer)).toEqual({ oid: `sha256:${'ab'.repeat(32)}`, size: 4368438944 });
    expect(refusal(pointer)).toBe(
      `${F}: is a git-LFS pointer (oid sha256:abababababab…, 4.1 GiB), not the weights: run \`git lfs pull\` in the repository it came from`,
    );
    expect(lfsPointerError('w.safetensors', Buffer.from('version https://hawser.github.com/spec/v1\n')).message).toBe(
      'w.safetensors: is a git-LFS pointer, not the weights: run `git lfs pull` in the repository it came from',
    );
    expect(isLfsPointer(Buffer.from('version https://git-lfs.github.com/spec/v2'))).toBe(false);
    expect(isLfsPointer(valid)).toBe(false);
    const p = join(dir, 'pointer.gguf');
    await writeFile(p, pointer);
    await expect(readGgufHeader(p)).rejects.toThrow(/is a git-LFS pointer/);
    for (let i = 0; i < 20; i++) {
      const r = randomBytes(4096);
      expect(refusal(r, 'random.gguf')).toMatch(
        /^random\.gguf: invalid GGUF: the file does not start with the magic "GGUF"/,
      );
      r.write('GGUF', 0, 'latin1');
      r.writeUInt32LE(3, 4);
      expect(refusal(r, 'random.gguf')).toMatch(/^random\.gguf: invalid GGUF: /);
    }
    expect(refusal(new Uint8Array(0))).toBe(
      `${F}: invalid GGUF: the file is 0 bytes, too short for a GGUF header (24 bytes)`,
    );
  });

  it('parseGguf on a prefix too short for the header says so', () => {
    expect(() => parseGguf(valid.subarray(0, 40), valid.length, F)).toThrow(
      /: invalid GGUF: the header runs past the 40 bytes read \(to offset \d+\); pass more of the file$/,
    );
    expect(parseGguf(valid.subarray(0, header.headerBytes), valid.length, F)).toEqual(header);
  });
});

describe('GGUF: reading from disk and card facts', () => {
  it('readGgufHeader reads only the header (across more than one read) and equals parseGguf', async () => {
    const tokens = Array.from({ length: 150_000 }, (_, i) => `token-${i}`); // ~2.5 MB of header: two reads
    const b = encodeGguf({
      metadata: { 'general.architecture': 'qwen2', 'tokenizer.ggml.tokens': tokens },
      tensors: [{ name: 'w', type: 'F16', dims: [1024, 512] }],
    });
    const p = join(dir, 'big.gguf');
    await writeFile(p, b);
    const h = await readGgufHeader(p);
    expect(h.headerBytes).toBeGreaterThan(1024 * 1024);
    expect(h).toEqual(parse(b, p));
    expect((h.metadata.get('tokenizer.ggml.tokens') as GgufArray).value).toHaveLength(150_000);
    expect(isGguf(p)).toBe(true);
    expect(isGguf('model.GGUF')).toBe(true);
    expect(isGguf('model.gguf.part')).toBe(false);
  });

  it('ggufFacts: family, parameters, file type, dominant dtype, context length', () => {
    const h = parse(encodeGguf({ ...TINY, metadata: { ...(TINY.metadata as object), 'general.file_type': 15 } }));
    expect(ggufFacts(h)).toEqual({
      family: 'llama',
      parameters: 64 * 8 + 64 + 512,
      quantization: 'MOSTLY_Q4_K_M',
      dtype: 'Q8_0', // 544 bytes of Q8_0 against 288 of Q4_K
      contextLength: 128,
    });
    expect(tensorByteSize('Q8_0', [64, 8])).toBe(544);
    // No file type: the dominant tensor type; no architecture: no family and no context length.
    expect(ggufFacts(parse(encodeGguf({ tensors: [{ name: 'w', type: 'Q4_K', dims: [256] }] })))).toEqual({
      parameters: 256,
      quantization: 'Q4_K',
      dtype: 'Q4_K',
    });
    expect(ggufFacts(parse(encodeGguf({ metadata: { 'general.architecture': { type: 'uint8', value: 1 } } })))).toEqual(
      {
        parameters: 0,
      },
    );
  });
});
