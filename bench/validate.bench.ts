// Times `validate` on a generated registry of 1,000 models x 10 versions against the floor of only
// reading and parsing the same YAML files (plain yaml.parse, no checks), in the same run.
// Usage: node bench/validate.bench.ts [models=1000] [versions=10] [runs=5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { generateRegistry } from './registry-generator.ts';

const [models = 1000, versions = 10, runs = 5] = process.argv.slice(2).map(Number);
const root = mkdtempSync(join(tmpdir(), 'mg-bench-validate-'));
const files = generateRegistry(root, models, versions);

function floor(): number {
  // The same files, found the same way (readdir), read and parsed to plain objects, no checks.
  let n = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        parse(readFileSync(p, 'utf8'));
        n++;
      }
    }
  };
  walk(join(root, 'models'));
  walk(join(root, 'environments'));
  return n;
}

function ours(): number {
  const r = validateRegistry(new WorkingTreeSource(root, { maxFileBytes: 1024 * 1024 }));
  if (r.errors !== 0)
    throw new Error(`generated registry should be valid: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  return r.counts.files;
}

function time(fn: () => number): { ms: number; n: number } {
  const t = performance.now();
  const n = fn();
  return { ms: performance.now() - t, n };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Warm up both (JIT, page cache), then interleave runs so drift affects both alike.
floor();
ours();
const f: number[] = [];
const o: number[] = [];
for (let i = 0; i < runs; i++) {
  f.push(time(floor).ms);
  o.push(time(ours).ms);
}
const cli = spawnSync(
  process.execPath,
  [new URL('../bin/model-gitops.js', import.meta.url).pathname, 'validate', '--repo', root, '--json'],
  { encoding: 'utf8', maxBuffer: 1 << 26 },
);
const cliMs = (() => {
  const t = performance.now();
  spawnSync(
    process.execPath,
    [new URL('../bin/model-gitops.js', import.meta.url).pathname, 'validate', '--repo', root],
    { encoding: 'utf8' },
  );
  return performance.now() - t;
})();
const cliValid = (JSON.parse(cli.stdout) as { valid: boolean }).valid;

const result = {
  benchmark: 'validate',
  registry: { models, versions, files },
  runs,
  floorMs: Math.round(median(f)),
  validateMs: Math.round(median(o)),
  ratio: Number((median(o) / median(f)).toFixed(2)),
  goal: '<= 2.0x floor',
  cliWallMs: Math.round(cliMs),
  cliValid,
};
console.log(`registry: ${models} models x ${versions} versions = ${files} files`);
console.log(`floor (readdir + read + yaml.parse):   ${result.floorMs} ms (median of ${runs})`);
console.log(`validate (in process, all checks):     ${result.validateMs} ms  -> ${result.ratio}x floor (goal <= 2x)`);
console.log(`model-gitops validate (CLI, wall):     ${result.cliWallMs} ms including Node start-up`);
console.log(JSON.stringify(result));
rmSync(root, { recursive: true, force: true });
