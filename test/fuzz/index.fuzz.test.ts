// Fuzz target: the device-side index check (src/sync/index-check.ts `checkIndex`/`validIndex`), run on
// whatever JSON a store hands a device. Property: it never throws, on any JSON value; a refusal comes
// with a short reason; an accepted index is really consistent with the file size (regions and tensors,
// sorted, non-overlapping, covering the file exactly, the header first, sha256 as 64 lowercase hex
// digits, only checked fields) and planDelta can use it. Both stored shapes are fuzzed: version 1
// (safetensors, headerSize + tensors) and version 2 (safetensors and GGUF, regions + tensors). Inputs: arbitrary JSON values, hostile index-shaped objects
// (null entries, wrong types, inherited names, huge lists, deep nesting), mutations of valid indexes
// (as values and as JSON text), and the corpus in test/fixtures/fuzz/index/ (valid-*, invalid-*, and
// crash-*: inputs that once made validIndex throw, kept as regression inputs).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, indexSafetensorsBytes } from '../../src/formats/safetensors.ts';
import { indexBytes } from '../../src/formats/tensor-index.ts';
import { planDelta } from '../../src/sync/delta.ts';
import { checkIndex, validIndex } from '../../src/sync/index-check.ts';
import { encodeGguf } from '../helpers/gguf.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

const CORPUS = new URL('../fixtures/fuzz/index/', import.meta.url).pathname;
/** No single input may take longer than this (the check is one linear pass and a sort). */
const MAX_MS_PER_INPUT = 2_000;
/** Runs per property, measured at about 5 s each (10 s for the target) in `npm test` on a 2-core machine. */
const ARBITRARY_RUNS = 13_000;
const MUTATED_RUNS = 50_000;

const HEX64 = /^[0-9a-f]{64}$/;
const FIELDS = ['dtype', 'end', 'name', 'sha256', 'shape', 'start'];

type Outcome = 'accepted' | 'refused';

/** The property, for one (value, fileSize). */
function check(value: unknown, fileSize: number): Outcome {
  const t0 = performance.now();
  const r = checkIndex(value, fileSize); // a throw here is the finding
  expect(performance.now() - t0).toBeLessThan(MAX_MS_PER_INPUT);
  const legacy = validIndex(value, fileSize);
  if (!r.ok) {
    expect(typeof r.reason).toBe('string');
    expect(r.reason.length).toBeGreaterThan(0);
    expect(r.reason.length).toBeLessThan(1_000);
    expect(legacy).toBeUndefined();
    return 'refused';
  }
  const { index } = r;
  expect(legacy).toEqual(index);
  const keys = ['format', 'headerEnd', 'regions', 'tensors', 'version'];
  expect(Object.keys(index).sort()).toEqual(index.format === 'safetensors' ? [...keys, 'headerSize'].sort() : keys);
  expect(['safetensors', 'gguf']).toContain(index.format);
  expect([1, 2]).toContain(index.version);
  if (index.format === 'safetensors') {
    expect(Number.isSafeInteger(index.headerSize) && index.headerSize! >= 2).toBe(true);
    expect(index.headerEnd).toBe(8 + index.headerSize!);
  }
  expect(index.regions[0]).toMatchObject({ kind: 'header', start: 0, end: index.headerEnd });
  if (index.regions[0]!.sha256 !== undefined) expect(HEX64.test(index.regions[0]!.sha256)).toBe(true);
  expect(index.headerEnd).toBeGreaterThan(0);
  expect(index.headerEnd).toBeLessThanOrEqual(fileSize);
  for (const g of index.regions) {
    const extra = [...(g.sha256 ? ['sha256'] : []), ...(g.zero ? ['zero'] : [])];
    expect(Object.keys(g).sort()).toEqual(['end', 'kind', ...extra, 'start'].sort());
    if (g.zero) expect([g.kind, g.zero]).toEqual(['padding', true]);
  }
  for (const t of index.tensors) {
    expect(Object.keys(t).sort()).toEqual(FIELDS);
    expect(typeof t.name === 'string' && typeof t.dtype === 'string').toBe(true);
    expect(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)).toBe(true);
    expect(HEX64.test(t.sha256)).toBe(true);
    expect(Number.isSafeInteger(t.start) && Number.isSafeInteger(t.end)).toBe(true);
  }
  // Sorted together, regions and tensors tile the file: no overlap, no hole.
  let pos = 0;
  for (const p of [...index.regions, ...index.tensors].sort((a, b) => a.start - b.start || a.end - b.end)) {
    expect(p.start).toBe(pos);
    expect(p.end).toBeGreaterThanOrEqual(p.start);
    pos = p.end;
  }
  // With nothing local, everything but zero padding is fetched, the header first.
  const plan = planDelta(index, fileSize, new Map());
  expect(plan.localBytes).toBe(0);
  expect(plan.remoteBytes + plan.zeroBytes).toBe(fileSize);
  expect(plan.remote[0]).toEqual([0, expect.any(Number)]);
  expect(plan.remote[0]![1]).toBeGreaterThanOrEqual(index.headerEnd);
  return 'accepted';
}

// ---- valid indexes of real files -------------------------------------------------------------------

const FILES = [
  encodeSafetensors(
    [
      { name: 'w', dtype: 'F32', shape: [2, 2], data: new Uint8Array(16).fill(3) },
      { name: 'empty', dtype: 'U8', shape: [0], data: new Uint8Array() },
      { name: 'b', dtype: 'U8', shape: [3], data: new Uint8Array(3).fill(4) },
    ],
    { format: 'pt' },
  ),
  encodeSafetensors([{ name: '__proto__', dtype: 'BF16', shape: [1], data: new Uint8Array(2) }]),
  encodeSafetensors([]),
  encodeSafetensors(
    Array.from({ length: 20 }, (_, i) => ({ name: `t${i}`, dtype: 'U8', shape: [i % 4], data: new Uint8Array(i % 4) })),
  ),
];
const GGUF_FILES = [
  encodeGguf({
    version: 3,
    metadata: { 'general.architecture': 'llama' },
    tensors: [
      { name: 'a', type: 'F32', dims: [3] },
      { name: 'q', type: 'Q8_0', dims: [32] },
      { name: 'e', type: 'F16', dims: [1] },
    ],
  }),
  encodeGguf({ version: 3, tensors: [] }),
];
const BASES = [
  ...FILES.map((bytes) => ({ size: bytes.length, text: JSON.stringify(indexSafetensorsBytes('f', bytes)) })),
  ...FILES.map((bytes) => ({ size: bytes.length, text: JSON.stringify(indexBytes('f', bytes, 'safetensors')) })),
  ...GGUF_FILES.map((bytes) => ({ size: bytes.length, text: JSON.stringify(indexBytes('f', bytes, 'gguf')) })),
];

// ---- generators ------------------------------------------------------------------------------------
// Inputs are small recipes (what fast-check keeps, shrinks and prints); `make` builds the JSON value
// inside the property, fresh each run, so nothing fast-check holds is ever mutated or huge.

type Recipe =
  | { json: string }
  | { deep: number; arrays: boolean }
  | { huge: number; fill: string }
  | { obj: [string, Recipe][] }
  | { list: Recipe[] };

/** The JSON value a recipe describes (deep and huge values built iteratively). */
function make(r: Recipe): unknown {
  if ('json' in r) return JSON.parse(r.json);
  if ('deep' in r) {
    let v: unknown = r.arrays ? [] : 1;
    for (let i = 0; i < r.deep; i++) v = r.arrays ? [v] : { x: v };
    return v;
  }
  if ('huge' in r) return Array(r.huge).fill(JSON.parse(r.fill));
  if ('list' in r) return r.list.map(make);
  const o: Record<string, unknown> = {};
  // defineProperty: a key such as `__proto__` becomes an own property, as JSON.parse makes it
  for (const [k, v] of r.obj)
    Object.defineProperty(o, k, { value: make(v), enumerable: true, writable: true, configurable: true });
  return o;
}

const INHERITED = ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'];
const json = fc.jsonValue({ maxDepth: 3 }).map((v): Recipe => ({ json: JSON.stringify(v) }));
const special = fc
  .constantFrom(
    'null',
    '-1',
    '-0',
    '0.5',
    '1e1',
    '9007199254740992',
    '9007199254740991',
    '1e308',
    '""',
    '"0"',
    `"${'a'.repeat(64)}"`,
    `"${'A'.repeat(64)}"`,
    `"${'0'.repeat(63)}"`,
    `"${'0'.repeat(65)}"`,
    ...INHERITED.map((n) => JSON.stringify(n)),
  )
  .map((t): Recipe => ({ json: t }));
const deep = fc
  .tuple(
    fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 1_000, max: 20_000 }) },
      { weight: 1, arbitrary: fc.constant(100_000) },
    ),
    fc.boolean(),
  )
  .map(([n, arrays]): Recipe => ({ deep: n, arrays }));
const huge = fc
  .tuple(
    fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 10_000, max: 50_000 }) },
      { weight: 1, arbitrary: fc.constant(1_000_000) },
    ),
    fc.constantFrom('null', '0', '""', '[]', '{}'),
  )
  .map(([n, fill]): Recipe => ({ huge: n, fill }));
const weird: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 8, arbitrary: json },
  { weight: 4, arbitrary: special },
  { weight: 1, arbitrary: deep },
);
const nat = (max: number) => fc.nat(max).map((n): Recipe => ({ json: String(n) }));
const str = (a: fc.Arbitrary<string>) => a.map((v): Recipe => ({ json: JSON.stringify(v) }));
/** An object recipe from optional fields (absent ones left out). */
const objectOf = (fields: Record<string, fc.Arbitrary<Recipe>>, required: string[] = []) =>
  fc.record(fields, { requiredKeys: required }).map((o): Recipe => ({ obj: Object.entries(o) as [string, Recipe][] }));
const entry: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 1, arbitrary: weird },
  {
    weight: 3,
    arbitrary: objectOf({
      name: fc.oneof(str(fc.string({ maxLength: 4 })), weird),
      dtype: fc.oneof(str(fc.constantFrom('F32', 'U8')), weird),
      shape: fc.oneof(
        fc.array(nat(4), { maxLength: 3 }).map((l): Recipe => ({ list: l })),
        weird,
      ),
      start: fc.oneof(nat(200), weird),
      end: fc.oneof(nat(200), weird),
      sha256: fc.oneof(str(fc.stringMatching(/^[0-9a-f]{64}$/)), weird),
      ...Object.fromEntries(INHERITED.map((n) => [n, weird])),
    }),
  },
);
const region: fc.Arbitrary<Recipe> = fc.oneof(
  { weight: 1, arbitrary: weird },
  {
    weight: 4,
    arbitrary: objectOf({
      kind: fc.oneof(str(fc.constantFrom('header', 'padding', 'tensor')), weird),
      zero: fc.oneof(fc.constant<Recipe>({ json: 'true' }), weird),
      sha256: fc.oneof(str(fc.stringMatching(/^[0-9a-f]{64}$/)), weird),
      start: fc.oneof(nat(200), weird),
      end: fc.oneof(nat(200), weird),
      ...Object.fromEntries(INHERITED.map((n) => [n, weird])),
    }),
  },
);
const hostile: fc.Arbitrary<Recipe> = objectOf(
  {
    format: fc.oneof(
      { weight: 5, arbitrary: str(fc.constantFrom('safetensors', 'gguf')) },
      { weight: 1, arbitrary: weird },
    ),
    version: fc.oneof({ weight: 3, arbitrary: fc.constant<Recipe>({ json: '2' }) }, { weight: 1, arbitrary: weird }),
    size: fc.oneof({ weight: 3, arbitrary: nat(300) }, { weight: 1, arbitrary: weird }),
    sha256: fc.oneof(str(fc.stringMatching(/^[0-9a-f]{64}$/)), weird),
    regions: fc.oneof(
      { weight: 6, arbitrary: fc.array(region, { maxLength: 4 }).map((l): Recipe => ({ list: l })) },
      { weight: 1, arbitrary: weird },
      { weight: 1, arbitrary: huge },
    ),
    headerSize: fc.oneof({ weight: 5, arbitrary: nat(100) }, { weight: 1, arbitrary: weird }),
    tensors: fc.oneof(
      { weight: 6, arbitrary: fc.array(entry, { maxLength: 6 }).map((l): Recipe => ({ list: l })) },
      { weight: 1, arbitrary: weird },
      { weight: 1, arbitrary: huge },
    ),
    metadata: weird,
    __proto__: weird,
  },
  ['format', 'tensors'],
);
const fileSize = fc.oneof(fc.nat(300), fc.constantFrom(0, 8, 10, 2 ** 53, -1, 0.5, Number.NaN));

type Edit =
  | { kind: 'set'; tensor: number; field: string; value: Recipe }
  | { kind: 'delete'; tensor: number; field: string }
  | { kind: 'shift'; tensor: number; field: 'start' | 'end'; by: number }
  | { kind: 'top'; field: string; value: Recipe }
  | { kind: 'splice'; at: number; value: Recipe }
  | { kind: 'duplicate'; tensor: number }
  | { kind: 'headerSize'; by: number }
  | { kind: 'region'; region: number; field: 'start' | 'end' | 'kind'; by: number }
  | { kind: 'proto'; tensor: number };
const fieldName = fc.constantFrom(...FIELDS, ...INHERITED, 'extra');
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), tensor: fc.nat(), field: fieldName, value: weird }),
  fc.record({ kind: fc.constant('delete' as const), tensor: fc.nat(), field: fieldName }),
  fc.record({
    kind: fc.constant('shift' as const),
    tensor: fc.nat(),
    field: fc.constantFrom('start' as const, 'end' as const),
    by: fc.integer({ min: -20, max: 20 }),
  }),
  fc.record({
    kind: fc.constant('top' as const),
    field: fc.constantFrom('format', 'headerSize', 'tensors', 'version', 'size', 'sha256', 'regions', ...INHERITED),
    value: fc.oneof(weird, huge),
  }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), value: weird }),
  fc.record({ kind: fc.constant('duplicate' as const), tensor: fc.nat() }),
  fc.record({ kind: fc.constant('headerSize' as const), by: fc.integer({ min: -10, max: 10 }) }),
  fc.record({
    kind: fc.constant('region' as const),
    region: fc.nat(),
    field: fc.constantFrom('start' as const, 'end' as const, 'kind' as const),
    by: fc.integer({ min: -20, max: 20 }),
  }),
  fc.record({ kind: fc.constant('proto' as const), tensor: fc.nat() }),
);

const own = (o: object, k: string, v: unknown) =>
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });

/** Applies value-level edits to a fresh copy of a valid index. */
function applyEdits(text: string, edits: readonly Edit[]): unknown {
  const v = JSON.parse(text) as Record<string, unknown>;
  for (const e of edits) {
    const list = Array.isArray(v.tensors) ? (v.tensors as unknown[]) : undefined;
    const pick = (i: number) => (list?.length ? list[i % list.length] : undefined);
    if (e.kind === 'top') own(v, e.field, make(e.value));
    else if (e.kind === 'headerSize') v.headerSize = (typeof v.headerSize === 'number' ? v.headerSize : 0) + e.by;
    else if (e.kind === 'region') {
      const regions = Array.isArray(v.regions) ? (v.regions as Record<string, unknown>[]) : [];
      const g = regions[e.region % Math.max(1, regions.length)];
      if (typeof g !== 'object' || g === null) continue;
      if (e.field === 'kind') g.kind = g.kind === 'header' ? 'padding' : 'header';
      else g[e.field] = (typeof g[e.field] === 'number' ? (g[e.field] as number) : 0) + e.by;
    } else if (e.kind === 'splice') list?.splice(e.at % (list.length + 1), 0, make(e.value));
    else if (e.kind === 'duplicate') {
      const t = pick(e.tensor);
      if (t !== undefined) list!.push(typeof t === 'object' && t !== null ? { ...t } : t);
    } else {
      const t = pick(e.tensor) as Record<string, unknown> | undefined;
      if (typeof t !== 'object' || t === null || Array.isArray(t)) continue;
      if (e.kind === 'set') own(t, e.field, make(e.value));
      else if (e.kind === 'delete') delete t[e.field];
      else if (e.kind === 'shift') t[e.field] = (typeof t[e.field] === 'number' ? (t[e.field] as number) : 0) + e.by;
      else list![list!.indexOf(t)] = Object.create(t); // every field inherited, none own
    }
  }
  return v;
}

const mutatedValue = fc.record({
  base: fc.nat(BASES.length - 1),
  edits: fc.array(edit, { minLength: 1, maxLength: 3 }),
  sizeDelta: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) },
  ),
});

/** Text-level mutations of a valid index; an input that is no longer JSON is skipped (the caller's SyntaxError path). */
const mutatedText = fc.record({
  base: fc.nat(BASES.length - 1),
  cuts: fc.array(
    fc.record({
      at: fc.nat(),
      len: fc.nat(6),
      insert: fc.oneof(
        fc.constantFrom('', 'null', '-0', '1e1', '16.0', '"__proto__"', '{}', '[]', ',', '"', '0', '9', 'f', '[null]'),
        fc.string({ maxLength: 3 }),
      ),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});
function applyCuts(text: string, cuts: readonly { at: number; len: number; insert: string }[]): unknown {
  for (const c of cuts) {
    const at = c.at % (text.length + 1);
    text = text.slice(0, at) + c.insert + text.slice(at + c.len);
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---- the corpus ------------------------------------------------------------------------------------

const corpus = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('fuzz: device index check', () => {
  it('replays the corpus: valid-* accepted, invalid-* and crash-* refused, nothing throws', () => {
    expect(corpus.some((f) => f.startsWith('valid-'))).toBe(true);
    expect(corpus.some((f) => f.startsWith('crash-'))).toBe(true);
    for (const f of corpus) {
      const { fileSize: size, index } = JSON.parse(readFileSync(join(CORPUS, f), 'utf8')) as {
        fileSize: number;
        index: unknown;
      };
      expect([f, check(index, size)]).toEqual([f, f.startsWith('valid-') ? 'accepted' : 'refused']);
    }
    for (const b of BASES) expect(check(JSON.parse(b.text), b.size)).toBe('accepted');
  });

  it('arbitrary JSON values and hostile index shapes never throw', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(
        fc.oneof({ weight: 2, arbitrary: json }, { weight: 1, arbitrary: deep }, { weight: 5, arbitrary: hostile }),
        fileSize,
        (recipe, size) => {
          check(make(recipe), size);
        },
      ),
      fuzzParameters(ARBITRARY_RUNS, 0x1dec_0001),
    );
  });

  it('mutated valid indexes: refused with a reason, or accepted and consistent', { timeout: fuzzTimeout() }, () => {
    fc.assert(
      fc.property(fc.oneof(mutatedValue, mutatedText), (m) => {
        const base = BASES[m.base]!;
        if ('edits' in m) check(applyEdits(base.text, m.edits), base.size + m.sizeDelta);
        else {
          const value = applyCuts(base.text, m.cuts);
          if (value !== undefined) check(value, base.size);
        }
      }),
      fuzzParameters(MUTATED_RUNS, 0x1dec_0003),
    );
  });
});
