// Fuzz target: the strict safetensors parser (src/formats/safetensors.ts), the one `push` and edge devices
// run on files and headers nobody vetted. Property: parseSafetensors either returns a header that is
// consistent with the bytes (checked here by an independent reading of the JSON) or throws a UserError
// naming the file; never anything else, and never slow. Inputs: generated headers (JSON-ish text with
// hostile values: deep nesting, inherited names, integers spelled 16.0 / 1e1 / -0, huge lists), byte-level
// mutations of valid files, and the corpus in test/fixtures/fuzz/safetensors/ (valid-*, invalid-*, and
// crash-*: inputs that once crashed the parser, kept as regression inputs).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, indexSafetensorsBytes, parseSafetensors } from '../../src/formats/safetensors.ts';
import { UserError } from '../../src/lib/errors.ts';
import { checkIndex } from '../../src/sync/safetensors-index.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

const FILE = 'fuzz.safetensors';
const CORPUS = new URL('../fixtures/fuzz/safetensors/', import.meta.url).pathname;
/** No single input may take longer than this (the parser is linear; a hang or a blow-up fails). */
const MAX_MS_PER_INPUT = 2_000;
/** Runs per property, measured at about 5 s each (10 s for the target) in `npm test` on a 2-core machine. */
const GENERATED_RUNS = 2_800;
const MUTATED_RUNS = 8_000;

/** The reference's dtypes we accept and their bits, written out again here: an oracle, not an import. */
const BITS: ReadonlyMap<string, number> = new Map([
  ...['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0'].map((d) => [d, 8] as const),
  ...['I16', 'U16', 'F16', 'BF16'].map((d) => [d, 16] as const),
  ...['I32', 'U32', 'F32'].map((d) => [d, 32] as const),
  ...['I64', 'U64', 'F64', 'C64'].map((d) => [d, 64] as const),
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
]);
const DTYPES = [...BITS.keys()];
const INHERITED = [
  'toString',
  'constructor',
  '__proto__',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
];

/** A file from header text and a data section of `dataSize` patterned bytes. */
function fileOf(header: string, dataSize: number, lengthField?: bigint): Uint8Array {
  const h = Buffer.from(header);
  const out = Buffer.alloc(8 + h.length + Math.max(0, dataSize));
  out.writeBigUInt64LE(lengthField ?? BigInt(h.length));
  h.copy(out, 8);
  for (let i = 8 + h.length; i < out.length; i++) out[i] = (i * 31) & 0xff;
  return out;
}

type Outcome = 'accepted' | 'refused';

/** The property, for one input. */
function check(bytes: Uint8Array): Outcome {
  const t0 = performance.now();
  let header: ReturnType<typeof parseSafetensors> | undefined;
  let error: unknown;
  try {
    header = parseSafetensors(FILE, bytes);
  } catch (e) {
    error = e;
  }
  expect(performance.now() - t0).toBeLessThan(MAX_MS_PER_INPUT);
  if (header === undefined) {
    if (!(error instanceof UserError)) throw error; // the finding: anything but a UserError
    expect(error.message.startsWith(`${FILE}: invalid safetensors: `)).toBe(true);
    expect(error.message.length).toBeLessThan(1_000);
    return 'refused';
  }
  consistent(bytes, header);
  return 'accepted';
}

/** An accepted header against an independent reading of the same bytes. */
function consistent(bytes: Uint8Array, header: ReturnType<typeof parseSafetensors>): void {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = Number(buf.readBigUInt64LE(0));
  expect(header.headerSize).toBe(n);
  expect(header.dataStart).toBe(8 + n);
  // Every number in an accepted header is written as the reference reads a usize: digits only.
  const spelled: string[] = [];
  const raw = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'), (_k, v, ctx?: { source?: string }) => {
    if (typeof v === 'number' && !/^(0|[1-9][0-9]*)$/.test(ctx?.source ?? '')) spelled.push(ctx?.source ?? '?');
    return v;
  }) as Record<string, unknown>;
  expect(spelled).toEqual([]);
  const { __metadata__: meta, ...entries } = raw;
  // Metadata: every key kept (none vanishes, `__proto__` included), every value a string.
  const m = (meta ?? {}) as Record<string, unknown>;
  expect(Object.keys(header.metadata).sort()).toEqual(Object.keys(m).sort());
  for (const k of Object.keys(m)) {
    expect(typeof m[k]).toBe('string');
    expect(Object.getOwnPropertyDescriptor(header.metadata, k)?.value).toBe(m[k]);
  }
  expect(header.tensors.map((t) => t.name).sort()).toEqual(Object.keys(entries).sort());
  let pos = header.dataStart;
  for (const t of header.tensors) {
    const e = entries[t.name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
    expect(Object.keys(e).sort()).toEqual(['data_offsets', 'dtype', 'shape']);
    expect(BITS.has(e.dtype)).toBe(true);
    expect([t.dtype, t.shape, t.start - header.dataStart, t.end - header.dataStart]).toEqual([
      e.dtype,
      e.shape,
      ...e.data_offsets,
    ]);
    const bits = t.shape.reduce((a, d) => a * BigInt(d), 1n) * BigInt(BITS.get(t.dtype)!);
    expect(bits % 8n).toBe(0n);
    expect(bits / 8n).toBe(BigInt(t.end - t.start));
    expect(t.start).toBe(pos); // sorted, contiguous
    pos = t.end;
  }
  expect(pos).toBe(bytes.length); // covers the data section exactly
  // What the parser accepts, the store indexes and a device accepts.
  const index = indexSafetensorsBytes(FILE, bytes);
  const seen = checkIndex(JSON.parse(JSON.stringify(index)), bytes.length);
  expect(seen.ok).toBe(true);
  for (const t of index.tensors)
    expect(t.sha256).toBe(createHash('sha256').update(bytes.subarray(t.start, t.end)).digest('hex'));
}

// ---- generated headers ---------------------------------------------------------------------------

/** Number spellings, the ones the reference refuses as a usize among them. */
const numberText = fc.oneof(
  { weight: 3, arbitrary: fc.nat({ max: 64 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '16.0',
      '1e1',
      '1E1',
      '-0',
      '-1',
      '0.0',
      '-0.0',
      '0e0',
      '1.6e1',
      '4294967296',
      '9007199254740991',
      '9007199254740993',
      '18446744073709551615',
      '18446744073709551616',
      '1e400',
    ),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
);
const stringText = fc
  .oneof(fc.constantFrom(...DTYPES, ...INHERITED, 'F17', '', 'dtype', '__metadata__'), fc.string({ maxLength: 8 }))
  .map((s) => JSON.stringify(s));
const keyText = fc
  .oneof(fc.constantFrom('dtype', 'shape', 'data_offsets', '__metadata__', ...INHERITED), fc.string({ maxLength: 6 }))
  .map((s) => JSON.stringify(s));
const leafText = fc.oneof(numberText, stringText, fc.constantFrom('true', 'false', 'null'));
const { valueText } = fc.letrec((tie) => ({
  valueText: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafText,
    fc.array(tie('valueText') as fc.Arbitrary<string>, { maxLength: 4 }).map((a) => `[${a.join(',')}]`),
    fc
      .array(fc.tuple(keyText, tie('valueText') as fc.Arbitrary<string>), { maxLength: 3 })
      .map((kv) => `{${kv.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  ),
}));
/** A value nested past every limit (or just under the reference's). */
const deepText = fc
  .tuple(fc.oneof(fc.integer({ min: 120, max: 135 }), fc.integer({ min: 1_000, max: 120_000 })), fc.boolean(), leafText)
  .map(([n, arrays, leaf]) =>
    arrays ? '['.repeat(n) + leaf + ']'.repeat(n) : '{"x":'.repeat(n) + leaf + '}'.repeat(n),
  );
/** A long list (the header cap allows millions of entries). */
const longListText = fc
  .tuple(fc.integer({ min: 1_000, max: 200_000 }), leafText)
  .map(([n, leaf]) => `[${Array(n).fill(leaf).join(',')}]`);
const hostileText = fc.oneof(
  { weight: 6, arbitrary: valueText },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: longListText },
);

type Field =
  | 'dtype'
  | 'shape'
  | 'data_offsets'
  | 'shape[0]'
  | 'data_offsets[0]'
  | 'data_offsets[1]'
  | 'extra'
  | 'whole'
  | 'inherited dtype'
  | 'respell';
/** The same integer spelled as the reference refuses it for a usize (JSON.parse reads the same value). */
const respellings = (n: number): string[] => [
  `${n}.0`,
  `${n}e0`,
  `${n}E+0`,
  `${n}0e-1`,
  ...(n === 0 ? ['-0', '-0.0', '0e5'] : []),
  ...(n % 10 === 0 && n > 0 ? [`${n / 10}e1`] : []),
];
const generatedHeader = fc
  .record({
    tensors: fc.array(
      fc.record({
        name: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...INHERITED, '__metadata__')),
        dtype: fc.constantFrom(...DTYPES),
        shape: fc.array(fc.nat({ max: 6 }), { maxLength: 3 }),
      }),
      { maxLength: 5 },
    ),
    breaks: fc.array(
      fc.record({
        tensor: fc.nat(),
        field: fc.constantFrom<Field>(
          'dtype',
          'shape',
          'data_offsets',
          'shape[0]',
          'data_offsets[0]',
          'data_offsets[1]',
          'extra',
          'whole',
          'inherited dtype',
          'respell',
        ),
        value: hostileText,
        pick: fc.nat(),
      }),
      { maxLength: 2 },
    ),
    metadata: fc.option(
      fc.oneof(
        fc.array(
          fc.tuple(keyText, fc.oneof({ weight: 4, arbitrary: stringText }, { weight: 1, arbitrary: hostileText })),
          { maxLength: 4 },
        ),
        hostileText,
      ),
    ),
    pad: fc.constantFrom('', ' ', '\t\n', '  \r\n'),
    dataDelta: fc.oneof(
      { weight: 5, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) },
    ),
  })
  .map(({ tensors, breaks, metadata, pad, dataDelta }) => {
    let offset = 0;
    // Each field as JSON text pieces, so a break can replace one element with any text.
    const entries = tensors.map((t) => {
      const bits = t.shape.reduce((a, d) => a * d, 1) * BITS.get(t.dtype)!;
      const size = Math.ceil(bits / 8);
      const e = {
        name: JSON.stringify(t.name),
        dtype: JSON.stringify(t.dtype),
        shape: t.shape.map(String),
        offsets: [String(offset), String(offset + size)],
        whole: {} as Record<string, string>,
        extra: [] as string[],
        replaced: undefined as string | undefined,
      };
      offset += size;
      return e;
    });
    for (const b of breaks) {
      const e = entries[b.tensor % Math.max(1, entries.length)];
      if (!e) break;
      if (b.field === 'whole') e.replaced = b.value;
      else if (b.field === 'extra') e.extra.push(`${JSON.stringify(INHERITED[b.pick % INHERITED.length])}:${b.value}`);
      else if (b.field === 'inherited dtype') e.dtype = JSON.stringify(INHERITED[b.pick % INHERITED.length]);
      else if (b.field === 'respell') {
        const list = b.pick % 2 === 0 && e.shape.length ? e.shape : e.offsets;
        const i = b.pick % list.length;
        const options = respellings(Number(list[i]));
        list[i] = options[b.pick % options.length]!;
      } else if (b.field === 'shape[0]') e.shape[0] = b.value;
      else if (b.field === 'data_offsets[0]') e.offsets[0] = b.value;
      else if (b.field === 'data_offsets[1]') e.offsets[1] = b.value;
      else e.whole[b.field] = b.value;
    }
    const parts = entries.map((e) => {
      if (e.replaced !== undefined) return `${e.name}:${e.replaced}`;
      const fields = [
        `"dtype":${e.whole.dtype ?? e.dtype}`,
        `"shape":${e.whole.shape ?? `[${e.shape.join(',')}]`}`,
        `"data_offsets":${e.whole.data_offsets ?? `[${e.offsets.join(',')}]`}`,
        ...e.extra,
      ];
      return `${e.name}:{${fields.join(',')}}`;
    });
    if (metadata !== null)
      parts.unshift(
        `"__metadata__":${typeof metadata === 'string' ? metadata : `{${metadata.map(([k, v]) => `${k}:${v}`).join(',')}}`}`,
      );
    return fileOf(`${pad}{${parts.join(',')}}${pad}`, offset + dataDelta);
  });

// ---- mutations of valid files --------------------------------------------------------------------

const VALID: readonly Uint8Array[] = [
  encodeSafetensors(
    [
      { name: 'layer.weight', dtype: 'F32', shape: [2, 3], data: new Uint8Array(24).fill(1) },
      { name: 'layer.bias', dtype: 'BF16', shape: [3], data: new Uint8Array(6).fill(2) },
      { name: 'empty', dtype: 'F16', shape: [0, 4], data: new Uint8Array() },
    ],
    { format: 'pt', note: 'fuzz' },
  ),
  encodeSafetensors([
    { name: 'q', dtype: 'F4', shape: [4], data: new Uint8Array(2) },
    { name: 'b', dtype: 'BOOL', shape: [1, 1, 1], data: new Uint8Array(1) },
    { name: '__proto__', dtype: 'I64', shape: [1], data: new Uint8Array(8) },
  ]),
  encodeSafetensors(
    Array.from({ length: 12 }, (_, i) => ({ name: `t${i}`, dtype: 'U8', shape: [i], data: new Uint8Array(i) })),
    Object.defineProperty({ format: 'pt' }, '__proto__', { value: 'x', enumerable: true }),
  ),
];

const TOKENS = [
  '16.0',
  '1e1',
  '-0',
  '-1',
  '0.5',
  'null',
  'true',
  '"toString"',
  '"constructor"',
  '"__proto__"',
  '{"__proto__":"x"}',
  '[',
  ']',
  '{',
  '}',
  '"',
  '\\',
  ',',
  ':',
  '[[[[[[[[',
  ']]]]]]]]',
  '\\u0000',
  '\u2028',
  '9007199254740993',
  ' ',
];
type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'duplicate'; at: number; len: number }
  | { kind: 'value'; at: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    byte: fc.oneof(fc.nat(255), fc.constantFrom(...Buffer.from('{}[]",:\\-.e0123456789 '))),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...TOKENS), leafText),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ kind: fc.constant('value' as const), at: fc.nat(), text: hostileText }),
);

/** Where the n-th JSON value after a `"key":` lies (a string, a flat list or a number), as [start, end). */
function valueSpan(header: Buffer, at: number): [number, number] | undefined {
  const text = header.toString('latin1'); // one char per byte: indexes are byte offsets
  const starts: number[] = [];
  for (const m of text.matchAll(/":\s*/g)) starts.push(m.index + m[0].length);
  if (!starts.length) return undefined;
  const s = starts[at % starts.length]!;
  let e = s;
  if (text[s] === '"') e = text.indexOf('"', s + 1) + 1;
  else if (text[s] === '[') e = text.indexOf(']', s) + 1;
  else if (text[s] === '{')
    e = s; // an object: insert before it
  else while (e < text.length && /[-0-9.eE+]/.test(text[e]!)) e++;
  return e < s ? undefined : [s, e];
}

const mutatedFile = fc
  .record({
    base: fc.nat(VALID.length - 1),
    mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }),
    fixLength: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    inData: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  })
  .map(({ base, mutations, fixLength, inData }) => {
    const file = Buffer.from(VALID[base]!);
    const n = Number(file.readBigUInt64LE(0));
    let header: Buffer = file.subarray(8, 8 + n);
    let data: Buffer = file.subarray(8 + n);
    let prefix: Buffer = file.subarray(0, 8);
    for (const m of mutations) {
      if (m.kind === 'value') {
        const span = valueSpan(header, m.at);
        if (span) header = Buffer.concat([header.subarray(0, span[0]), Buffer.from(m.text), header.subarray(span[1])]);
        continue;
      }
      const target = inData && data.length ? 'data' : m.at % 11 === 0 ? 'prefix' : 'header';
      const buf = target === 'data' ? data : target === 'prefix' ? prefix : header;
      const at = buf.length ? m.at % buf.length : 0;
      let out: Buffer;
      if (m.kind === 'flip' || m.kind === 'set') {
        out = Buffer.from(buf);
        if (out.length) out[at] = m.kind === 'flip' ? out[at]! ^ (1 << m.bit) : m.byte;
      } else if (m.kind === 'insert') out = Buffer.concat([buf.subarray(0, at), Buffer.from(m.text), buf.subarray(at)]);
      else if (m.kind === 'delete') out = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
      else out = Buffer.concat([buf.subarray(0, at + m.len), buf.subarray(at, at + m.len), buf.subarray(at + m.len)]);
      if (target === 'data') data = out;
      else if (target === 'prefix')
        prefix = out.length >= 8 ? out.subarray(0, 8) : Buffer.concat([out, Buffer.alloc(8 - out.length)]);
      else header = out;
    }
    const len = Buffer.from(prefix);
    if (fixLength) len.writeBigUInt64LE(BigInt(header.length));
    return new Uint8Array(Buffer.concat([len, header, data]));
  });

// ---- the corpus ------------------------------------------------------------------------------------

const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.safetensors'))
  .sort();

describe('fuzz: safetensors parser', () => {
  it('replays the corpus: valid-* parse, invalid-* and crash-* are refused as UserErrors', () => {
    expect(corpus.some((f) => f.startsWith('valid-'))).toBe(true);
    expect(corpus.some((f) => f.startsWith('crash-'))).toBe(true);
    for (const f of corpus) {
      const outcome = check(readFileSync(join(CORPUS, f)));
      expect([f, outcome]).toEqual([f, f.startsWith('valid-') ? 'accepted' : 'refused']);
    }
  });

  it('generated headers: a consistent header or a UserError', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(generatedHeader, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(GENERATED_RUNS, 0x5afe_0001),
    );
  });

  it('mutated valid files: a consistent header or a UserError', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(mutatedFile, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(MUTATED_RUNS, 0x5afe_0002),
    );
  });
});
