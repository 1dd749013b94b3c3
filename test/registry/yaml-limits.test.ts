// The YAML loader's limits on hostile input of up to the size limit: each check is linear, so no one
// file can stall CI. The big inputs are generated here (never committed). The time limits are the
// regression guard: before the fix, the parser's quadratic unique-keys check took about 40 s on the
// 64,000-key card and locating its fields as long again, and the 400,000 `[` took seconds to refuse.
import { describe, expect, it } from 'vitest';
import { type ParseResult, type YamlFile, locate, parseYamlFile } from '../../src/registry/yaml-file.ts';

const FILE = 'models/big/versions/1.0.0.yaml';
const enc = new TextEncoder();
const parse = (text: string): ParseResult => parseYamlFile(FILE, enc.encode(text));
const LIMIT_MS = 10_000; // the fixed code takes well under a second for each of these

/** `name: big` then `count` keys `k00000: 1` ...: about 640 KB for 64,000 keys, under the 1 MiB limit. */
function manyKeys(count: number): string {
  const lines = ['name: big'];
  for (let i = 0; i < count; i++) lines.push(`k${String(i).padStart(5, '0')}: 1`);
  return `${lines.join('\n')}\n`;
}

function refusal(r: ParseResult) {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('unreachable');
  expect(r.diagnostics).toHaveLength(1);
  return r.diagnostics[0]!;
}

function loaded(r: ParseResult): YamlFile {
  if (!r.ok) throw new Error(`expected the file to load: ${JSON.stringify(r.diagnostics)}`);
  return r.value;
}

describe('duplicate keys are found in linear time', () => {
  it('a card with 64,000 top-level keys and one of them repeated is refused once, at the repeat', {
    timeout: LIMIT_MS,
  }, () => {
    const text = `${manyKeys(64_000)}k31999: again\n`;
    expect(text.length).toBeGreaterThan(600_000);
    expect(text.length).toBeLessThan(1024 * 1024);
    expect(refusal(parse(text))).toEqual({
      file: FILE,
      line: 64_002,
      column: 1,
      field: '',
      message: 'duplicate key: each key may appear once in a mapping',
      rule: 'yaml-syntax',
      severity: 'error',
    });
  });

  it('the repeat may be spelled differently: 1 and "1" are the same field once loaded', { timeout: LIMIT_MS }, () => {
    const text = `${manyKeys(64_000)}1: one\n"1": also one\n`;
    const d = refusal(parse(text));
    expect(d).toMatchObject({ line: 64_003, column: 1, field: '', rule: 'yaml-syntax' });
    expect(d.message).toContain('"1" is given twice');
  });

  it('without a repeat the card loads, and each of its 64,000 fields is located at its own line', {
    timeout: LIMIT_MS,
  }, () => {
    const y = loaded(parse(manyKeys(64_000)));
    expect(Object.keys(y.data as object)).toHaveLength(64_001);
    for (let i = 0; i < 64_000; i += 1) {
      const at = locate(y, [`k${String(i).padStart(5, '0')}`], 'key');
      if (at.line !== i + 2 || at.column !== 1) expect(at).toEqual({ line: i + 2, column: 1 });
    }
  });

  // The parser used to report these itself (keys equal as YAML values, in any mapping, keys included);
  // keys equal only once loaded were reported by the loader with their field. Both stay as they were.
  it.each([
    ['a plain and a quoted key', 'a: 1\n"a": 2\n', 2, 1, '', 'each key may appear once'],
    ['two spellings of the number 1', 'x:\n  1: a\n  0x1: b\n', 3, 3, '', 'each key may appear once'],
    ['two null keys', '~: a\nnull: b\n', 2, 1, '', 'each key may appear once'],
    ['inside a flow mapping in a list', 'a: [1, {b: 1, b: 2}]\n', 1, 15, '', 'each key may appear once'],
    ['inside a mapping used as a key', '? {a: 1, a: 2}\n: x\n', 1, 10, '', 'each key may appear once'],
    ['1 and "1"', 'x: {1: a, "1": b}\n', 1, 11, 'x', '"1" is given twice'],
    ['two .nan keys', 'x:\n  .nan: a\n  .nan: b\n', 3, 3, 'x', '"NaN" is given twice'],
  ])('%s', (_name, text, line, column, field, message) => {
    const d = refusal(parse(text));
    expect(d).toMatchObject({ line, column, field, rule: 'yaml-syntax' });
    expect(d.message).toContain('duplicate key');
    expect(d.message).toContain(message);
  });

  it('a syntax error before the repeat is reported first, as before', () => {
    const d = refusal(parse('a: b: c\nd: 1\nd: 2\n'));
    expect(d.rule).toBe('yaml-syntax');
    expect(d.message).not.toContain('duplicate key');
  });
});

describe('nesting is refused before parsing when the text alone proves it', () => {
  const nesting = (line: number, column: number) => ({
    file: FILE,
    line,
    column,
    field: '',
    message: 'nesting is deeper than 64 levels',
    rule: 'yaml-structure',
    severity: 'error',
  });

  // `summary: ` is 9 characters: the 65th `[` (the one past the limit) is in column 74.
  it('400,000 nested [ (800 KB) are refused at the bracket past the limit', { timeout: LIMIT_MS }, () => {
    const text = `summary: ${'['.repeat(400_000)}${']'.repeat(400_000)}\n`;
    expect(refusal(parse(text))).toEqual(nesting(1, 74));
  });

  it('so are 1,000,000 that are never closed, and { mixed with [', { timeout: LIMIT_MS }, () => {
    expect(refusal(parse(`summary: ${'['.repeat(1_000_000)}\n`))).toEqual(nesting(1, 74));
    // Openers alternate [ and {, 5 characters a pair: the 65th is the 33rd [, in column 10 + 32 * 5.
    expect(refusal(parse(`name: x\nsummary: ${'[{a: '.repeat(200_000)}\n`))).toEqual(nesting(2, 170));
  });

  it('block sequences and explicit keys nested on one line (- - - x, ? ? ? x) count as well', {
    timeout: LIMIT_MS,
  }, () => {
    expect(refusal(parse(`a:\n${'- '.repeat(500_000)}x\n`))).toEqual(nesting(2, 129));
    expect(refusal(parse(`a:\n${'? '.repeat(500_000)}x\n`))).toEqual(nesting(2, 129));
    // 40 dashes (columns 1 to 79), then brackets from column 81: the 65th opener is the 25th bracket.
    expect(refusal(parse(`a:\n${'- '.repeat(40)}${'['.repeat(400_000)}\n`))).toEqual(nesting(2, 105));
  });

  it('up to twice the limit the parser decides, so the diagnostic names the field', () => {
    const at = (depth: number) => refusal(parse(`summary: ${'['.repeat(depth)}x${']'.repeat(depth)}\n`));
    expect(at(129)).toMatchObject({ line: 1, column: 74, field: `summary${'[0]'.repeat(64)}` });
    expect(at(130)).toEqual(nesting(1, 74));
    expect(at(64)).toMatchObject({ line: 1, column: 74, field: `summary${'[0]'.repeat(64)}` }); // the scalar x
    expect(parse(`summary: ${'['.repeat(63)}x${']'.repeat(63)}\n`).ok).toBe(true);
  });

  it('is not fooled by brackets and indicators in quoted, plain and block scalars or comments', {
    timeout: LIMIT_MS,
  }, () => {
    const deep = '['.repeat(200_000);
    const cases: [string, string, unknown][] = [
      ['double-quoted', `notes: "${deep}\\"${deep}"\n`, `${deep}"${deep}`],
      ['single-quoted', `notes: '${deep}''${deep}'\n`, `${deep}'${deep}`],
      ['multi-line quoted', `notes: "a\n  ${deep}\n  b"\n`, `a ${deep} b`],
      ['plain, after a word', `notes: see ${deep}\n`, `see ${deep}`],
      [
        'plain, continued on the next line',
        `notes: see\n  ${deep}\n  and ${'- '.repeat(1000)}\n`,
        `see ${deep} and ${'- '.repeat(999)}-`,
      ],
      ['plain, with a quote inside', `notes: it's ${deep}\n`, `it's ${deep}`],
      ['literal block', `notes: |\n  ${deep}\n  ${'- '.repeat(1000)}x\nname: y\n`, `${deep}\n${'- '.repeat(1000)}x\n`],
      ['folded block in a list', `notes:\n  - >-\n    ${deep}\n`, [deep]],
      ['comment', `# ${deep}\nnotes: x # ${deep}\n`, 'x'],
      [
        'flow, inside quotes',
        `notes: [a, "${deep}", '${deep}', b'c, {k: "]"}]\n`,
        ['a', deep, deep, "b'c", { k: ']' }],
      ],
    ];
    for (const [name, text, notes] of cases) {
      const r = parse(text);
      expect(r.ok, name).toBe(true);
      expect((loaded(r).data as { notes: unknown }).notes, name).toEqual(notes);
    }
  });
});
