// Times the strict YAML loader (parseYamlFile) on the two hostile cards of the limits finding, against
// the floor of the plain parse (yaml's parseAllDocuments, unique-keys check off) and the loader as it
// was ("before": the same parse with the library's quadratic unique-keys check on, which dominated the
// old loader's time), all in the same run:
// - a card of 64,000 top-level keys, one of them repeated at the end (about 640 KB, under the 1 MiB limit);
// - the same card without the repeat (it loads; the loader's own checks are all linear);
// - `summary:` with 400,000 nested [ and their ] (800 KB).
// Usage: node bench/yaml-limits.bench.ts [keys=64000] [brackets=400000] [runs=5] [beforeRuns=1]
import { parseAllDocuments } from 'yaml';
import { parseYamlFile } from '../src/registry/yaml-file.ts';

const [keys = 64_000, brackets = 400_000, runs = 5, beforeRuns = 1] = process.argv.slice(2).map(Number);
const enc = new TextEncoder();
const FILE = 'models/big/versions/1.0.0.yaml';

function manyKeys(n: number, repeat: boolean): string {
  const lines = ['name: big'];
  for (let i = 0; i < n; i++) lines.push(`k${String(i).padStart(5, '0')}: 1`);
  if (repeat) lines.push(`k${String(n >> 1).padStart(5, '0')}: again`);
  return `${lines.join('\n')}\n`;
}

const cases = [
  { name: `${keys} keys, one repeated`, text: manyKeys(keys, true), expect: 'duplicate key' },
  { name: `${keys} keys`, text: manyKeys(keys, false), expect: 'ok' },
  {
    name: `${brackets} nested [`,
    text: `summary: ${'['.repeat(brackets)}${']'.repeat(brackets)}\n`,
    expect: 'nesting',
  },
];

// The loader's parse options, with the library's unique-keys check off (the floor) or on (before).
const options = (uniqueKeys: boolean) =>
  ({ version: '1.2', schema: 'core', uniqueKeys, strict: true, prettyErrors: false, merge: false }) as const;
function plainParse(text: string, uniqueKeys: boolean): void {
  try {
    parseAllDocuments(text, options(uniqueKeys));
  } catch {
    // a RangeError on deep nesting: the parse is over either way
  }
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => (x < 10 ? Number(x.toFixed(2)) : Math.round(x));

const results = [];
for (const c of cases) {
  const bytes = enc.encode(c.text);
  const r = parseYamlFile(FILE, bytes);
  const got = r.ok ? 'ok' : r.diagnostics[0]!.message;
  if (!got.startsWith(c.expect)) throw new Error(`${c.name}: expected ${c.expect}, got ${got}`);
  // Warm up (JIT), then interleave so that drift affects both alike.
  plainParse(c.text, false);
  parseYamlFile(FILE, bytes);
  const floor: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < runs; i++) {
    floor.push(time(() => plainParse(c.text, false)));
    after.push(time(() => parseYamlFile(FILE, bytes)));
  }
  const before: number[] = [];
  for (let i = 0; i < beforeRuns; i++) before.push(time(() => plainParse(c.text, true)));
  const row = {
    case: c.name,
    bytes: bytes.length,
    result: got.split(':')[0],
    floorMs: ms(median(floor)),
    beforeMs: ms(median(before)),
    afterMs: ms(median(after)),
    afterVsFloor: Number((median(after) / median(floor)).toFixed(3)),
    beforeVsAfter: Math.round(median(before) / median(after)),
  };
  results.push(row);
  console.log(
    `${c.name.padEnd(28)} ${String(bytes.length).padStart(8)} B  floor ${String(row.floorMs).padStart(6)} ms  ` +
      `before ${String(row.beforeMs).padStart(7)} ms  after ${String(row.afterMs).padStart(6)} ms  ` +
      `-> after ${row.afterVsFloor}x floor, before ${row.beforeVsAfter}x after`,
  );
}
console.log(
  `floor: parseAllDocuments, unique keys off (median of ${runs}); before: the same with unique keys on ` +
    `(median of ${beforeRuns}); after: parseYamlFile, all checks (median of ${runs}). Goal: after <= 2x floor.`,
);
console.log(JSON.stringify({ benchmark: 'yaml-limits', runs, beforeRuns, results, goal: '<= 2.0x floor' }));
