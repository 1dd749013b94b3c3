// Benchmark of `check --base`: a generated registry of 1,000 models x 10 versions and 3 environments,
// committed as the base; the head adds 50 new versions (into dev) and promotes 50 versions from dev to
// staging, 100 changed versions in all. Timed in-process and through the CLI, against the floor of
// reading and parsing the same YAML twice (base through git cat-file, head from disk).
// `node bench/check.bench.ts` (or `npm run bench check`).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAgainstBase } from '../src/review/check.ts';
import { GitSource } from '../src/registry/git-source.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { DEFAULT_MAX_FILE_BYTES, parseYamlFile } from '../src/registry/yaml-file.ts';

const MODELS = 1000;
const VERSIONS = 10;
const CHANGED = 100;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const hex = (n: number, salt: string) => {
  let s = '';
  let x = (n * 2654435761 + salt.length * 97) >>> 0;
  while (s.length < 64) {
    x = (Math.imul(x ^ (x >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
    s += x.toString(16).padStart(8, '0');
  }
  return s.slice(0, 64);
};
const name = (i: number) => `model-${String(i).padStart(4, '0')}`;

function card(i: number, minor: number, patch = 0, weightsSalt = ''): string {
  const v = `1.${minor}.${patch}`;
  return `name: ${name(i)}
version: ${v}
summary: Generated version ${v} of model ${i}.
interface:
  inputs: [{name: text, dtype: string, shape: [batch]}]
  outputs: [{name: label, dtype: string, shape: [batch], labels: [a, b, c, d]}]
  tokenizer: {name: byte-tokenizer, sha256: ${hex(1, 'tok')}}
architecture: {family: mlp, parameters: 9312, format: safetensors, dtype: f32}
artifacts:
  - {path: model.safetensors, sha256: ${hex(i * 100 + minor, `w${weightsSalt}`)}, size: 37512}
  - {path: config.json, sha256: ${hex(i, 'cfg')}, size: 195}
lineage:
${minor > 0 ? `  parent: ${name(i)}@1.${minor - 1}.0\n` : ''}  code: {repository: acme/slm-training, commit: ${hex(minor, 'code').slice(0, 40)}}
  datasets:
    - {name: data-${minor}, uri: "s3://acme/data-${minor}/", sha256: ${hex(minor, 'data')}}
  hyperparameters: {learning_rate: 3.0e-5, epochs: 3}
metrics: {accuracy: 0.9}
${i % 10 === 5 ? `dependencies: {${name(0)}: "^1.0.0"}\n` : ''}`;
}

function environment(requires: string | undefined, pick: (i: number) => string): string {
  const lines = [`description: generated`, ...(requires ? [`requires: ${requires}`] : []), 'models:'];
  for (let i = 0; i < MODELS; i++) lines.push(`  ${name(i)}: ${pick(i)}`);
  return `${lines.join('\n')}\n`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time<T>(runs: number, f: () => T): { ms: number; value: T } {
  const ms: number[] = [];
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = f();
    ms.push(performance.now() - t);
  }
  return { ms: median(ms), value };
}

const dir = mkdtempSync(join(tmpdir(), 'mg-bench-check-'));
try {
  const t0 = performance.now();
  for (let i = 0; i < MODELS; i++) {
    const m = join(dir, 'models', name(i));
    mkdirSync(join(m, 'versions'), { recursive: true });
    writeFileSync(
      join(m, 'model.yaml'),
      `name: ${name(i)}\nowners: ["@acme/ml"]\ntask: text-classification\ndescription: Generated model ${i}.\n`,
    );
    for (let v = 0; v < VERSIONS; v++) writeFileSync(join(m, 'versions', `1.${v}.0.yaml`), card(i, v));
  }
  mkdirSync(join(dir, 'environments'));
  writeFileSync(
    join(dir, 'environments/dev.yaml'),
    environment(undefined, () => '1.9.0'),
  );
  writeFileSync(
    join(dir, 'environments/staging.yaml'),
    environment('dev', () => '1.8.0'),
  );
  writeFileSync(
    join(dir, 'environments/production.yaml'),
    environment('staging', () => '1.7.0'),
  );
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'base');

  // Head: 50 new patch versions (new weights) entering dev, 50 promotions of 1.9.0 from dev to staging.
  const half = CHANGED / 2;
  for (let k = 0; k < half; k++)
    writeFileSync(
      join(dir, 'models', name(k * 2), 'versions', '1.9.1.yaml'),
      card(k * 2, 9, 1, 'new').replace(`parent: ${name(k * 2)}@1.8.0`, `parent: ${name(k * 2)}@1.9.0`),
    );
  writeFileSync(
    join(dir, 'environments/dev.yaml'),
    environment(undefined, (i) => (i % 2 === 0 && i / 2 < half ? '1.9.1' : '1.9.0')),
  );
  writeFileSync(
    join(dir, 'environments/staging.yaml'),
    environment('dev', (i) => (i % 2 === 1 && (i - 1) / 2 < half ? '1.9.0' : '1.8.0')),
  );
  const setupMs = performance.now() - t0;

  const files = MODELS * (VERSIONS + 1) + 3;
  const floor = time(5, () => {
    let n = 0;
    for (const e of new GitSource(dir, 'main', { maxFileBytes: DEFAULT_MAX_FILE_BYTES }).entries())
      if (e.bytes && parseYamlFile(e.path, e.bytes).ok) n++;
    for (const e of new WorkingTreeSource(dir, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }).entries())
      if (e.bytes && parseYamlFile(e.path, e.bytes).ok) n++;
    return n;
  });
  if (floor.value !== files * 2 + half)
    throw new Error(`floor parsed ${floor.value} files, expected ${files * 2 + half}`);
  const inProcess = time(5, () => checkAgainstBase(dir, 'main'));
  const r = inProcess.value;
  const kinds = r.changes.reduce<Record<string, number>>(
    (acc, c) => ({ ...acc, [c.kind]: (acc[c.kind] ?? 0) + 1 }),
    {},
  );
  if (r.errors !== 0 || kinds['version-added'] !== half || kinds['champion-moved'] !== CHANGED) {
    throw new Error(
      `unexpected result: ${r.errors} errors, changes ${JSON.stringify(kinds)}\n${r.diagnostics
        .slice(0, 5)
        .map((d) => `${d.file}:${d.line} ${d.message}`)
        .join('\n')}`,
    );
  }
  const cli = time(3, () => {
    const p = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/model-gitops.js'), 'check', '--base', 'main', '--repo', dir, '--json'],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    if (p.status !== 0) throw new Error(`cli exited ${p.status}: ${p.stderr}`);
    return p.stdout.length;
  });

  const row = (label: string, ms: number) =>
    `${label.padEnd(44)}${ms.toFixed(0).padStart(8)} ms${(ms / floor.ms).toFixed(2).padStart(8)}x`;
  console.log(
    `check --base: ${MODELS} models x ${VERSIONS} versions, 3 environments (${files} files per side), ${CHANGED} changed versions`,
  );
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}); generated in ${(setupMs / 1000).toFixed(1)} s`,
  );
  console.log(`${'median of 5 (CLI: 3) runs'.padEnd(44)}${'time'.padStart(11)}${'vs floor'.padStart(9)}`);
  console.log(row('floor: read + parse YAML twice (git + disk)', floor.ms));
  console.log(row('checkAgainstBase() in-process', inProcess.ms));
  console.log(row('model-gitops check --base main --json (CLI)', cli.ms));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
