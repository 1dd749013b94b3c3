// audit: "what was in production at T" on a registry of 1,000 models with 1,000 commits of history
// (written with `git fast-import`: each commit moves one model to a new version, by one of 20 authors,
// an hour apart). Timed in-process (median of 5) for a moment in the middle of the history, and through
// the CLI once. Floor: the one `git blame --porcelain` of environments/production.yaml at that commit,
// which the answer needs anyway. Target: under 1 s. The store side (manifest at T, evidence) is not part
// of this run: it is a binary search over manifests/<n>.json (about 10 reads for 1,000 manifests).
// `node bench/audit.bench.ts` (or `npm run bench audit`).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { audit } from '../src/lifecycle/audit.ts';

const MODELS = 1000;
const COMMITS = 1000;
const T0 = Date.UTC(2026, 0, 1) / 1000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const name = (i: number) => `model-${String(i).padStart(4, '0')}`;

const repo = mkdtempSync(join(tmpdir(), 'mg-auditbench-'));
execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
const versions = Array.from({ length: MODELS }, () => 0);
const file = () => `requires: staging\nmodels:\n${versions.map((v, i) => `  ${name(i)}: 1.${v}.0\n`).join('')}`;
let stream = '';
let x = 12345;
for (let c = 0; c < COMMITS; c++) {
  if (c > 0) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    versions[x % MODELS]!++;
  }
  const body = Buffer.from(file());
  const who = `author-${c % 20}`;
  const msg = c === 0 ? 'initial fleet' : `Promote model ${x % MODELS} (#${c})`;
  stream +=
    `commit refs/heads/main\ncommitter ${who} <${who}@example.com> ${T0 + c * 3600} +0000\n` +
    `data ${Buffer.byteLength(msg)}\n${msg}\n` +
    (c > 0 ? '' : '') +
    `M 100644 inline environments/production.yaml\ndata ${body.length}\n${body.toString()}\n`;
}
const t0 = performance.now();
execFileSync('git', ['fast-import', '--quiet'], { cwd: repo, input: stream, maxBuffer: 1 << 30 });
execFileSync('git', ['checkout', '-q', 'main'], { cwd: repo });
console.log(
  `audit bench: ${MODELS} models, ${COMMITS} commits (fast-import ${((performance.now() - t0) / 1000).toFixed(2)} s); ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);

const at = new Date((T0 + 500 * 3600 + 1800) * 1000);
const times: number[] = [];
let last;
for (let i = 0; i < 5; i++) {
  const s = performance.now();
  last = await audit({ repo, at, environment: 'production' });
  times.push((performance.now() - s) / 1000);
}
times.sort((a, b) => a - b);
const median = times[2]!;
const models = last!.environments[0]!.models;
// Check the answer against git itself for a few models: the version at T and the commit that set it.
const commit = last!.ref!.commit;
const text = execFileSync('git', ['show', `${commit}:environments/production.yaml`], { cwd: repo, encoding: 'utf8' });
for (const m of [models[0]!, models[499]!, models[999]!]) {
  const line = text.split('\n').find((l) => l.startsWith(`  ${m.model}:`))!;
  if (line.trim() !== `${m.model}: ${m.version}`)
    throw new Error(`wrong version for ${m.model}: ${m.version} vs ${line}`);
  const setBy = execFileSync(
    'git',
    ['log', '-1', '--format=%H', '-G', `^  ${m.model}: `, commit, '--', 'environments/production.yaml'],
    { cwd: repo, encoding: 'utf8' },
  ).trim();
  if (setBy !== m.changed?.commit) throw new Error(`wrong commit for ${m.model}: ${m.changed?.commit} vs ${setBy}`);
}
const b0 = performance.now();
execFileSync('git', ['blame', '--porcelain', commit, '--', 'environments/production.yaml'], {
  cwd: repo,
  maxBuffer: 1 << 28,
});
const blameS = (performance.now() - b0) / 1000;
const c0 = performance.now();
const cli = spawnSync(
  process.execPath,
  [
    join(ROOT, 'bin/model-gitops.js'),
    'audit',
    '--repo',
    repo,
    '--at',
    at.toISOString(),
    '--environment',
    'production',
    '--json',
  ],
  { encoding: 'utf8', maxBuffer: 1 << 28 },
);
const cliS = (performance.now() - c0) / 1000;
if (cli.status !== 0) throw new Error(cli.stderr);
console.log(
  `answer: ${models.length} models at ${at.toISOString()} (commit ${commit.slice(0, 12)}), checked against git log -G for 3 of them`,
);
console.log(
  `audit in-process: median ${median.toFixed(3)} s (min ${times[0]!.toFixed(3)}, max ${times[4]!.toFixed(3)})`,
);
console.log(`audit CLI (node start-up included): ${cliS.toFixed(3)} s`);
console.log(
  `floor (git blame --porcelain of the file alone): ${blameS.toFixed(3)} s; audit / floor = ${(median / blameS).toFixed(2)}x`,
);
if (median >= 1) {
  console.error(`FAILED: ${median.toFixed(3)} s is not under 1 s`);
  process.exit(1);
}
