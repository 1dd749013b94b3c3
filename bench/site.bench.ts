// Times `model-gitops site` on a generated registry (1,000 models x 10 versions, three environments,
// a promotion history of three commits on main, one of them a merged pull request) against the I/O
// floor of copying the finished site (`cp -r` of the same files), in the same run. Goal: <= 10 s for the
// whole command, Node start-up included.
// Usage: node bench/site.bench.ts [models=1000] [versions=10] [runs=3]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRegistry } from './registry-generator.ts';

const [models = 1000, versions = 10, runs = 3] = process.argv.slice(2).map(Number);
const work = mkdtempSync(join(tmpdir(), 'mg-bench-site-'));
const repo = join(work, 'registry');
const files = generateRegistry(repo, models, versions);

const git = (...args: string[]) =>
  execFileSync('git', args, {
    cwd: repo,
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Ana',
      GIT_AUTHOR_EMAIL: 'ana@example.com',
      GIT_COMMITTER_NAME: 'Ana',
      GIT_COMMITTER_EMAIL: 'ana@example.com',
    },
    encoding: 'utf8',
  });
git('init', '-q', '-b', 'main');
git('add', '.');
git('commit', '-q', '-m', 'Generated registry');
// Promotion history: staging moves every model up one version on a branch merged as a pull request,
// then production follows in a direct commit.
const bump = (file: string) => {
  const p = join(repo, 'environments', file);
  writeFileSync(
    p,
    readFileSync(p, 'utf8').replace(/1\.(\d+)\.0$/gm, (_, n) => `1.${Math.min(versions - 1, Number(n) + 1)}.0`),
  );
};
git('checkout', '-q', '-b', 'promote');
bump('staging.yaml');
git('commit', '-q', '-am', 'Promote every model to staging');
git('checkout', '-q', 'main');
git('merge', '-q', '--no-ff', '-m', 'Merge pull request #7 from acme/promote', 'promote');
bump('production.yaml');
git('commit', '-q', '-am', 'Promote every model to production');

const cli = new URL('../bin/model-gitops.js', import.meta.url).pathname;
interface Summary {
  pages: { total: number };
  files: number;
  bytes: number;
  ms: number;
  phases: { collect: number; pages: number; swap: number };
  cpuMs: number;
}
function site(out: string): { wall: number; summary: Summary } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, 'site', '--repo', repo, '--out', out, '--json'], { encoding: 'utf8' });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`site failed (${r.status}): ${r.stderr}`);
  return { wall, summary: JSON.parse(r.stdout) as Summary };
}
function copy(from: string, to: string): number {
  const t = performance.now();
  execFileSync('cp', ['-r', from, to]);
  return performance.now() - t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const out = join(work, 'site');
site(out); // warm-up: page cache, git's object cache
const walls: number[] = [];
const inner: number[] = [];
const copies: number[] = [];
let last: Summary | undefined;
const phases: Summary['phases'][] = [];
const cpus: number[] = [];
for (let i = 0; i < runs; i++) {
  const r = site(out);
  walls.push(r.wall);
  inner.push(r.summary.ms);
  last = r.summary;
  phases.push(r.summary.phases);
  cpus.push(r.summary.cpuMs);
  const to = join(work, `copy-${i}`);
  copies.push(copy(out, to));
  rmSync(to, { recursive: true, force: true });
}
const wall = median(walls);
const copyMs = median(copies);
const s = last!;
console.log(`registry: ${models} models x ${versions} versions (${files} files), 4 commits on main`);
console.log(`site: ${s.pages.total} pages, ${s.files} files, ${(s.bytes / 1048576).toFixed(1)} MiB`);
console.log('| measurement | time | ratio to floor |');
console.log('| --- | --- | --- |');
console.log(`| floor: cp -r of the finished site | ${copyMs.toFixed(0)} ms | 1.00x |`);
console.log(
  `| model-gitops site, in process (collect + render + write + swap) | ${median(inner).toFixed(0)} ms | ${(median(inner) / copyMs).toFixed(2)}x |`,
);
console.log(
  `| model-gitops site CLI, wall clock incl. Node start-up | ${wall.toFixed(0)} ms | ${(wall / copyMs).toFixed(2)}x |`,
);
console.log(
  `pages/s (CLI wall clock): ${Math.round(s.pages.total / (wall / 1000))}; goal <= 10,000 ms: ${wall <= 10_000 ? 'met' : 'NOT met'}`,
);
console.log(
  `phases (median): collect ${median(phases.map((p) => p.collect))} ms (git read + YAML load on ${Math.min(availableParallelism(), 4)} threads + history), pages ${median(phases.map((p) => p.pages))} ms (render + write), swap ${median(phases.map((p) => p.swap))} ms; CPU time (all threads) ${median(cpus)} ms`,
);
console.log(
  `runs: ${walls.map((w) => w.toFixed(0)).join(', ')} ms; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
rmSync(work, { recursive: true, force: true });
