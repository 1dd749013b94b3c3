// Fuzz target: the strict YAML loader (src/registry/yaml-file.ts), which reads every card of every pull
// request. Inputs: values serialised by the yaml library in every style (valid YAML), byte-level
// mutations of those and of the example cards, and adversarial fragments spliced in (deep brackets,
// block indicators nested on one line, repeated keys, anchors and aliases, tags, control characters,
// invalid UTF-8). Properties:
// - loading never throws: every refusal is a diagnostic with the file, a line and column >= 1 and a rule;
// - nothing is silently accepted: a loaded file has no two keys that are the same once loaded and no
//   node deeper than MAX_DEPTH, and nothing the parser's own unique-keys check flags;
// - the nesting scan that runs before parsing never claims more nesting than the parser finds.
// test/fixtures/fuzz/yaml/ holds the seed corpus and every input that ever failed, replayed first:
// `ok-*` files must load, `refused-*` files must be refused, the rest only has to keep the properties.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ToStringOptions, isMap, isScalar, isSeq, parseAllDocuments, parseDocument, stringify } from 'yaml';
import { MAX_DEPTH, type ParseResult, parseYamlFile, provenNesting } from '../../src/registry/yaml-file.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

const RUNS = 7500;
const SEED = 0x5eed_7a31;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CORPUS = join(ROOT, 'test/fixtures/fuzz/yaml');
const FILE = 'models/fuzz/versions/1.0.0.yaml';
const enc = new TextEncoder();
const dec = new TextDecoder(); // lenient: invalid bytes become U+FFFD, which the loader refuses first

// ---- generators ----

const CHARS = [...'ab01 -:#[]{},\'"!&*|>?%@`\\.\n\t'];
const text = fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 12 });
const scalar = fc.oneof(
  text,
  fc.integer({ min: -5, max: 5 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '1',
    'true',
    'null',
    '~',
    '0x1',
    '1.0',
    '.nan',
    '.inf',
    '- x',
    '? x',
    ': x',
    '#x',
    '[x',
    "'",
    'a # b',
  ),
);
const key = fc.oneof(fc.constantFrom('name', 'version', 'summary', 'a', 'b', '1', 'true', 'null', '0x1', '1.0'), text);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
}));
const style = fc.record({
  collectionStyle: fc.constantFrom('any', 'block', 'flow'),
  defaultStringType: fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'),
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE'),
  indent: fc.integer({ min: 1, max: 4 }),
  indentSeq: fc.boolean(),
  flowCollectionPadding: fc.boolean(),
  lineWidth: fc.constantFrom(0, 10, 80),
  minContentWidth: fc.constantFrom(0, 5, 20),
});
/** Valid YAML in every style the library writes. */
const serialised = fc.tuple(value, style).map(([v, o]) => stringify(v, o as ToStringOptions));

const FRAGMENTS = [
  '[',
  ']',
  '{',
  '}',
  "'",
  '"',
  '#',
  ' #',
  ': ',
  '- ',
  '? ',
  '|',
  '>',
  '\n',
  '  ',
  ',',
  '&a ',
  '*a',
  '!t ',
  '!!str ',
  '---\n',
  '...\n',
  'name: x\n',
  '1: x\n',
  '"1": y\n',
  'version: 1.0.0\n',
  '\t',
  '\u0007',
  '\u001b[31m',
  '\u0085',
  '\u2028',
  '\ufeff',
  '%YAML 1.2\n',
  '<<: *a\n',
  'é',
  '\r\n',
  '\r',
  '\\',
  '!<x> ',
  'x: &a [1]\ny: *a\n',
  '? - x\n  ',
];
const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FRAGMENTS).map((s) => enc.encode(s)) },
  // Invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong or surrogate lead, 0xff.
  {
    weight: 1,
    arbitrary: fc.constantFrom(0x00, 0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xf4, 0xf5, 0xff).map((b) => Uint8Array.of(b)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('[', '{', '- ', '? ', '[{a: ', '- [', '{"k": [', "['", '"['),
        fc.constantFrom(1, 2, 63, 64, 65, 66, 127, 128, 129, 130, 700, 3000),
      )
      .map(([s, k]) => enc.encode(s.repeat(k))),
  },
);
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), what: fragment }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('byte' as const),
    at: fc.nat(),
    byte: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...[...' :-[]{}"\'#\n\t|>,&*!?a1.'].map((c) => c.charCodeAt(0))) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
  }),
  // Repeat the line at `at`: a repeated key (a duplicate) or list item.
  fc.record({ kind: fc.constant('repeat-line' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Applies the mutations to a copy (never to `bytes`, which may be a shared corpus entry). */
function mutate(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(bytes);
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    if (m.kind === 'insert') b = concat(b.subarray(0, at), m.what, b.subarray(at));
    else if (m.kind === 'delete') b = concat(b.subarray(0, at), b.subarray(at + m.length));
    else if (m.kind === 'byte') {
      if (at < b.length) b[at] = m.byte;
    } else {
      const start = at === 0 ? 0 : b.lastIndexOf(0x0a, at - 1) + 1;
      const nl = b.indexOf(0x0a, at);
      const end = nl < 0 ? b.length : nl + 1;
      b = concat(b.subarray(0, end), b.subarray(start, end), b.subarray(end));
    }
  }
  return b;
}

const EXAMPLES = join(ROOT, 'examples/fleet/models');
const CARDS = readdirSync(EXAMPLES).flatMap((m) =>
  readdirSync(join(EXAMPLES, m, 'versions')).map((v) => new Uint8Array(readFileSync(join(EXAMPLES, m, 'versions', v)))),
);
const mutatedCard = fc
  .tuple(fc.constantFrom(...CARDS), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([card, ms]) => mutate(card, ms));
const mutatedSerialised = fc
  .tuple(serialised, fc.array(mutation, { maxLength: 3 }))
  .map(([t, ms]) => mutate(enc.encode(t), ms));
const input = fc.oneof(
  serialised.map((t) => enc.encode(t)),
  mutatedSerialised,
  mutatedCard,
);

// ---- properties ----

/** Deepest node (the loader's measure: the root is 0, scalars count) and every repeated key. */
function inspect(root: unknown): { depth: number; repeated: string[] } {
  let depth = 0;
  const repeated: string[] = [];
  const pending: [unknown, number][] = [[root, 0]];
  while (pending.length > 0) {
    const [node, d] = pending.pop()!;
    if (node === null || node === undefined) continue;
    depth = Math.max(depth, d);
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const name = String(pair.key.value);
          if (seen.has(name)) repeated.push(name);
          seen.add(name);
        }
        pending.push([pair.key, d + 1], [pair.value, d + 1]);
      }
    } else if (isSeq(node)) for (const item of node.items) pending.push([item, d + 1]);
  }
  return { depth, repeated };
}

/** Deepest collection (the root collection is 0), or undefined if a key is a collection. */
function collectionDepth(root: unknown): number | undefined {
  let depth = -1;
  const pending: [unknown, number][] = [[root, 0]];
  while (pending.length > 0) {
    const [node, d] = pending.pop()!;
    if (isMap(node)) {
      depth = Math.max(depth, d);
      for (const pair of node.items) {
        // `? - x` keys: the parser drops some lines after them without an error; the loader refuses
        // such keys anyway. The scan cannot be compared with a parse that lost text.
        if (isMap(pair.key) || isSeq(pair.key)) return undefined;
        pending.push([pair.value, d + 1]);
      }
    } else if (isSeq(node)) {
      depth = Math.max(depth, d);
      for (const item of node.items) pending.push([item, d + 1]);
    }
  }
  return depth;
}

// What the loader refuses before the nesting scan runs (see NON_PRINTABLE in yaml-file.ts).
const REFUSED_FIRST = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffd\ufffe\uffff]|\r(?!\n)/u;

function check(bytes: Uint8Array): ParseResult {
  let r: ParseResult;
  try {
    r = parseYamlFile(FILE, bytes);
  } catch (e) {
    throw new Error(`the loader threw: ${String(e)}`);
  }
  const source = dec.decode(bytes);
  if (!r.ok) {
    expect(r.diagnostics.length).toBeGreaterThan(0);
    const lines = source.split('\n').length;
    for (const d of r.diagnostics) {
      expect(d.file).toBe(FILE);
      expect(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines, `line ${d.line}`).toBe(true);
      expect(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`).toBe(true);
      expect(d.rule).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(d.severity).toBe('error');
      expect(typeof d.field).toBe('string');
      expect(d.message).toMatch(/\S/);
      expect(d.message).not.toMatch(/\n\s+at |RangeError|TypeError|Maximum call stack|\bundefined\b/);
    }
  } else {
    const { depth, repeated } = inspect(r.value.doc.contents);
    expect(repeated, 'a repeated key was accepted').toEqual([]);
    expect(depth, 'nesting deeper than the limit was accepted').toBeLessThanOrEqual(MAX_DEPTH);
    expect(isMap(r.value.doc.contents)).toBe(true);
    // The parser's own (quadratic) unique-keys check, on these small inputs, as an oracle.
    const [doc] = parseAllDocuments(r.value.text, { version: '1.2', schema: 'core', uniqueKeys: true, merge: false });
    expect((doc?.errors ?? []).filter((e) => e.code === 'DUPLICATE_KEY')).toEqual([]);
  }
  // The scan before parsing is a lower bound: a chain of k openers means nesting of k - 1 or more.
  if (!REFUSED_FIRST.test(source)) {
    let doc: ReturnType<typeof parseDocument> | undefined;
    try {
      doc = parseDocument(source, { version: '1.2', schema: 'core', uniqueKeys: false, merge: false });
    } catch {
      doc = undefined; // the parser ran out of stack: nothing to compare with
    }
    const depth = doc && doc.errors.length === 0 ? collectionDepth(doc.contents) : undefined;
    if (depth !== undefined) {
      for (let limit = 0; limit <= 6; limit++) {
        if (provenNesting(source, limit) === undefined) break;
        expect(depth, `the scan claims nesting deeper than ${limit}`).toBeGreaterThan(limit);
      }
    }
  }
  return r;
}

describe('fuzz: the YAML loader', () => {
  it('replays the corpus (test/fixtures/fuzz/yaml)', () => {
    const files = readdirSync(CORPUS).sort();
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const r = check(new Uint8Array(readFileSync(join(CORPUS, f))));
      if (f.startsWith('ok-')) expect(r.ok ? [] : r.diagnostics, f).toEqual([]);
      if (f.startsWith('refused-')) expect(r.ok, f).toBe(false);
    }
  });

  it('never throws, and refuses repeated keys and deep nesting with a located diagnostic', {
    timeout: fuzzTimeout(),
  }, () => {
    fc.assert(
      fc.property(input, (bytes) => {
        check(bytes);
      }),
      fuzzParameters(RUNS, SEED),
    );
  });
});
