// Fuzz target: the strict GGUF parser (src/formats/gguf.ts), which reads files nobody vetted (a pushed
// model, a download on an edge device). Property: parseGguf either returns a header consistent with the
// bytes (checked against an independent, lenient reading written here, and every tensor in bounds,
// aligned, sized by ggml's rule and not overlapping) or throws a UserError naming the file; never
// anything else, and never slow. Inputs: byte-level mutations of valid files from encodeGguf (bit flips,
// bytes set, truncation, insertions, deletions), blow-ups of their length, count, type and offset fields,
// GGUF-prefixed random bytes, and the corpus in test/fixtures/fuzz/gguf/ (valid-*, invalid-*, and crash-*:
// inputs that once broke the parser, kept as regression inputs).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GgufHeader, parseGguf } from '../../src/formats/gguf.ts';
import { UserError } from '../../src/lib/errors.ts';
import { encodeGguf, type GgufSpec } from '../helpers/gguf.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

const FILE = 'fuzz.gguf';
const CORPUS = new URL('../fixtures/fuzz/gguf/', import.meta.url).pathname;
/** No single input may take longer than this (the parser is linear; a hang or a blow-up fails). */
const MAX_MS_PER_INPUT = 2_000;
/** Runs per property: about 10 s for the target in `npm test` on a busy 2-core machine (~10k inputs/s). */
const MUTATED_RUNS = 45_000;
const BLOWUP_RUNS = 35_000;
const RANDOM_RUNS = 15_000;

/** ggml block sizes, written out again here (from ggml-common.h): an oracle, not an import. */
const BLOCKS: ReadonlyMap<number, [number, number]> = new Map([
  [0, [1, 4]],
  [1, [1, 2]],
  [2, [32, 18]],
  [3, [32, 20]],
  [6, [32, 22]],
  [7, [32, 24]],
  [8, [32, 34]],
  [9, [32, 36]],
  [10, [256, 84]],
  [11, [256, 110]],
  [12, [256, 144]],
  [13, [256, 176]],
  [14, [256, 210]],
  [15, [256, 292]],
  [16, [256, 66]],
  [17, [256, 74]],
  [18, [256, 98]],
  [19, [256, 50]],
  [20, [32, 18]],
  [21, [256, 110]],
  [22, [256, 82]],
  [23, [256, 136]],
  [24, [1, 1]],
  [25, [1, 2]],
  [26, [1, 4]],
  [27, [1, 8]],
  [28, [1, 8]],
  [29, [256, 56]],
  [30, [1, 2]],
  [34, [256, 54]],
  [35, [256, 66]],
  [39, [32, 17]],
  [40, [64, 36]],
  [41, [128, 18]],
  [42, [64, 18]],
]);
const TYPE_NAMES = [
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
];

// ---- an independent, lenient reading ------------------------------------------------------------

interface Field {
  at: number;
  bytes: 4 | 8;
  kind: 'count' | 'length' | 'type' | 'n_dims' | 'dim' | 'offset' | 'version';
}
interface Reading {
  fields: Field[];
  metadata: Map<string, unknown>;
  tensors: { name: string; type: number; dims: number[]; offset: number }[];
  end: number;
}

/** Reads a GGUF without judging it (lossy UTF-8, no limits but the buffer's): where the fields are, what they say. */
function oracle(bytes: Uint8Array): Reading {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let pos = 8;
  const fields: Field[] = [{ at: 4, bytes: 4, kind: 'version' }];
  const u32 = (kind: Field['kind']) => {
    fields.push({ at: pos, bytes: 4, kind });
    pos += 4;
    return b.readUInt32LE(pos - 4);
  };
  const u64 = (kind: Field['kind']) => {
    fields.push({ at: pos, bytes: 8, kind });
    pos += 8;
    return b.readBigUInt64LE(pos - 8);
  };
  const str = () => {
    const n = Number(u64('length'));
    if (pos + n > b.length) throw new RangeError('past the end');
    pos += n;
    return b.toString('utf8', pos - n, pos);
  };
  const value = (t: string): unknown => {
    const at = pos;
    switch (t) {
      case 'uint8':
        pos += 1;
        return { type: t, value: b.readUInt8(at) };
      case 'int8':
        pos += 1;
        return { type: t, value: b.readInt8(at) };
      case 'bool':
        pos += 1;
        return { type: t, value: b.readUInt8(at) === 1 };
      case 'uint16':
        pos += 2;
        return { type: t, value: b.readUInt16LE(at) };
      case 'int16':
        pos += 2;
        return { type: t, value: b.readInt16LE(at) };
      case 'uint32':
        pos += 4;
        return { type: t, value: b.readUInt32LE(at) };
      case 'int32':
        pos += 4;
        return { type: t, value: b.readInt32LE(at) };
      case 'float32':
        pos += 4;
        return { type: t, value: b.readFloatLE(at) };
      case 'uint64':
        pos += 8;
        return { type: t, value: b.readBigUInt64LE(at) };
      case 'int64':
        pos += 8;
        return { type: t, value: b.readBigInt64LE(at) };
      case 'float64':
        pos += 8;
        return { type: t, value: b.readDoubleLE(at) };
      case 'string':
        return { type: t, value: str() };
      case 'array': {
        const itemType = TYPE_NAMES[u32('type')]!;
        const n = Number(u64('length'));
        if (n > b.length) throw new RangeError('array longer than the file');
        const items: unknown[] = [];
        for (let i = 0; i < n; i++) {
          const v = value(itemType) as { value: unknown };
          items.push(itemType === 'array' ? v : v.value);
        }
        return { type: t, itemType, value: items };
      }
    }
    throw new RangeError(`value type ${t}`);
  };
  const nt = Number(u64('count'));
  const nkv = Number(u64('count'));
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < nkv; i++) {
    const key = str();
    metadata.set(key, value(TYPE_NAMES[u32('type')]!));
  }
  const tensors: Reading['tensors'] = [];
  for (let i = 0; i < nt; i++) {
    const name = str();
    const nd = u32('n_dims');
    const dims: number[] = [];
    for (let d = 0; d < nd; d++) dims.push(Number(u64('dim')));
    const type = u32('type');
    tensors.push({ name, type, dims, offset: Number(u64('offset')) });
  }
  return { fields, metadata, tensors, end: pos };
}

// ---- the property ---------------------------------------------------------------------------------

type Outcome = 'accepted' | 'refused';

function check(bytes: Uint8Array): Outcome {
  const t0 = performance.now();
  let header: GgufHeader | undefined;
  let error: unknown;
  try {
    header = parseGguf(bytes, bytes.length, FILE);
  } catch (e) {
    error = e;
  }
  expect(performance.now() - t0).toBeLessThan(MAX_MS_PER_INPUT);
  if (header === undefined) {
    if (!(error instanceof UserError)) throw error; // the finding: anything but a UserError
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    expect(error.message.length).toBeLessThan(1_000);
    return 'refused';
  }
  consistent(bytes, header);
  return 'accepted';
}

/** An accepted header: in bounds, and what the independent reading of the same bytes says. */
function consistent(bytes: Uint8Array, h: GgufHeader): void {
  const r = oracle(bytes);
  expect(h.headerBytes).toBe(r.end);
  const a = h.alignment;
  expect(a > 0 && (a & (a - 1)) === 0).toBe(true);
  expect(h.dataStart % a).toBe(0);
  expect(h.dataStart - h.headerBytes).toBeGreaterThanOrEqual(0);
  expect(h.dataStart - h.headerBytes).toBeLessThan(a);
  expect(new Map([...h.metadata].map(([k, v]) => [k, v]))).toEqual(r.metadata);
  expect(h.tensors.map((t) => [t.name, t.type, t.dims, t.offset - h.dataStart])).toEqual(
    r.tensors.map((t) => [t.name, t.type, t.dims, t.offset]),
  );
  expect(new Set(h.tensors.map((t) => t.name)).size).toBe(h.tensors.length);
  let end = h.dataStart;
  for (const t of h.tensors) {
    const [block, bytesPerBlock] = BLOCKS.get(t.type)!;
    expect(t.dims.length).toBeGreaterThanOrEqual(1);
    expect(t.dims.length).toBeLessThanOrEqual(4);
    for (const d of t.dims) expect(d).toBeGreaterThanOrEqual(1);
    expect(t.dims[0]! % block).toBe(0);
    expect(t.size).toBe((t.dims.reduce((x, y) => x * y, 1) / block) * bytesPerBlock);
    expect((t.offset - h.dataStart) % a).toBe(0);
    expect(t.offset).toBeGreaterThanOrEqual(end); // in order, no overlap
    expect(t.offset + t.size).toBeLessThanOrEqual(bytes.length); // in bounds
    end = t.offset + t.size;
  }
  expect(bytes.length - end).toBeLessThan(h.tensors.length ? a : a + 1);
}

// ---- valid files and their mutations --------------------------------------------------------------

const SPECS: GgufSpec[] = [
  {
    metadata: {
      'general.architecture': 'llama',
      'general.file_type': 7,
      'llama.context_length': 2048,
      'llama.embedding_length': 64,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', '▁a', 'é'],
      'tokenizer.ggml.scores': [0, 0, 0, -1.5, -2.25],
      'tokenizer.ggml.token_type': [2, 3, 3, 1, 1],
    },
    tensors: [
      { name: 'token_embd.weight', type: 'Q8_0', dims: [64, 5] },
      { name: 'blk.0.attn_norm.weight', type: 'F32', dims: [64] },
      { name: 'output.weight', type: 'Q4_K', dims: [256, 1] },
    ],
  },
  {
    version: 2,
    alignment: 64,
    metadata: [
      { key: 'u8', type: 'uint8', value: 7 },
      { key: 'i16', type: 'int16', value: -2 },
      { key: 'f64', type: 'float64', value: 0.5 },
      { key: 'u64', type: 'uint64', value: 2n ** 63n },
      { key: 'i64', type: 'int64', value: -5n },
      { key: 'b', type: 'bool', value: true },
      {
        key: 'nested',
        type: 'array',
        itemType: 'array',
        value: [
          { type: 'array', itemType: 'string', value: ['x'] },
          { type: 'array', itemType: 'uint16', value: [1, 2] },
        ],
      },
    ],
    tensors: [
      { name: 'a', type: 'BF16', dims: [3, 2] },
      { name: 'b', type: 'IQ2_XXS', dims: [256] },
      { name: 'c', type: 'MXFP4', dims: [32, 1, 2] },
      { name: 'd', type: 'TQ1_0', dims: [256, 1, 1, 1] },
    ],
  },
  {
    alignment: 8,
    metadata: { 'general.name': 'every type' },
    tensors: [...BLOCKS.keys()].map((type, i) => ({ name: `t${i}`, type, dims: [BLOCKS.get(type)![0]] })),
  },
  { metadata: { only: 'metadata' } },
];
const VALID: readonly Buffer[] = SPECS.map((s) => encodeGguf(s));
const FIELDS: readonly Field[][] = VALID.map((b) => oracle(b).fields);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number };
const position = fc.oneof({ weight: 3, arbitrary: fc.nat(400) }, { weight: 1, arbitrary: fc.nat() });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: position,
      byte: fc.oneof(fc.nat(255), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: position,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position, len: fc.integer({ min: 1, max: 9 }) }),
  },
);

function mutate(base: Buffer, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(base);
  for (const m of mutations) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.kind === 'set') b[at] = m.byte;
    else if (m.kind === 'truncate') b = b.subarray(0, m.at % (b.length + 1));
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
  }
  return b;
}

const mutatedFile = fc
  .record({ base: fc.nat(VALID.length - 1), mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }) })
  .map(({ base, mutations }) => mutate(VALID[base]!, mutations));

/** Values that break a length, count, offset or type field: edges of u32/u64, the file's size, off-by-ones. */
const hostile64 = (original: bigint, size: number): bigint[] => [
  0n,
  1n,
  2n ** 64n - 1n,
  2n ** 63n,
  2n ** 63n - 1n,
  2n ** 32n,
  2n ** 32n - 1n,
  2n ** 53n + 1n,
  BigInt(size),
  BigInt(size) + 1n,
  original + 1n,
  original > 0n ? original - 1n : 0n,
  original * 2n,
  original + 32n,
];
const hostile32 = [0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 36, 39, 40, 42, 43, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

const blownUpFile = fc
  .record({
    base: fc.nat(VALID.length - 1),
    blowups: fc.array(fc.record({ field: fc.nat(), pick: fc.nat() }), { minLength: 1, maxLength: 3 }),
    tail: fc.option(mutation, { freq: 4 }),
  })
  .map(({ base, blowups, tail }) => {
    const b = Buffer.from(VALID[base]!);
    const fields = FIELDS[base]!;
    for (const { field, pick } of blowups) {
      const f = fields[field % fields.length]!;
      if (f.bytes === 8) {
        const values = hostile64(b.readBigUInt64LE(f.at), b.length);
        b.writeBigUInt64LE(BigInt.asUintN(64, values[pick % values.length]!), f.at);
      } else b.writeUInt32LE(hostile32[pick % hostile32.length]!, f.at);
    }
    return tail ? mutate(b, [tail]) : new Uint8Array(b);
  });

/** GGUF, a version, then random bytes: the parser's every branch on noise. */
const randomFile = fc
  .record({
    version: fc.constantFrom(2, 3),
    body: fc.uint8Array({ minLength: 16, maxLength: 512 }),
    small: fc.boolean(),
  })
  .map(({ version, body, small }) => {
    const b = Buffer.alloc(8 + body.length);
    b.write('GGUF', 0, 'latin1');
    b.writeUInt32LE(version, 4);
    b.set(body, 8);
    // Small counts get past the count check into metadata and tensor infos.
    if (small && b.length >= 24) {
      b.writeBigUInt64LE(BigInt(body[0]! % 4), 8);
      b.writeBigUInt64LE(BigInt(body[1]! % 4), 16);
    }
    return new Uint8Array(b);
  });

// ---- the corpus ------------------------------------------------------------------------------------

const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.gguf'))
  .sort();

describe('fuzz: GGUF parser', () => {
  it('the valid files are accepted and read the same by the independent reading', () => {
    for (const b of VALID) expect(check(b)).toBe('accepted');
  });

  it('replays the corpus: valid-* parse, invalid-* and crash-* are refused as UserErrors', () => {
    expect(corpus.some((f) => f.startsWith('valid-'))).toBe(true);
    expect(corpus.some((f) => f.startsWith('invalid-'))).toBe(true);
    for (const f of corpus) {
      const outcome = check(readFileSync(join(CORPUS, f)));
      expect([f, outcome]).toEqual([f, f.startsWith('valid-') ? 'accepted' : 'refused']);
    }
  });

  it('mutated valid files: a consistent header or a UserError', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(mutatedFile, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(MUTATED_RUNS, 0x6767_0001),
    );
  });

  it('blown-up length, count, type and offset fields: a consistent header or a UserError', {
    timeout: fuzzTimeout(),
  }, () => {
    fc.assert(
      fc.property(blownUpFile, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(BLOWUP_RUNS, 0x6767_0002),
    );
  });

  it('GGUF-prefixed random bytes: a UserError (or, rarely, a consistent header)', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(randomFile, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(RANDOM_RUNS, 0x6767_0003),
    );
  });
});
