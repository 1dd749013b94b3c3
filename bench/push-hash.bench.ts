// Push hashing and bounded memory, all in one run:
//   1. `model-gitops push --dry-run` of a >= 512 MiB safetensors model with a cold hash cache (every run
//      hashes the whole file and every tensor) against `openssl dgst -sha256` of the same file (OpenSSL
//      uses SHA-NI; Debian's sha256sum does not, so it is no fair peer). Reported gross and net of process
//      start (the same push of a one-file folder subtracted). Goal: net <= 1.3x openssl.
//   2. The same one-pass index in process (indexFile), without the CLI around it.
//   3. Peak RSS (/usr/bin/time %M) of `push` to a folder store and of `sync` (a whole install, then a
//      one-tensor delta) on a 1 GiB model. Goal: <= 256 MiB each.
// Page cache: every file is read once before it is timed, so both sides hash from memory.
// Usage: node_modules/.bin/node bench/push-hash.bench.ts [--size-mib 528] [--rss-mib 1024] [--runs 3]
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { indexFile } from '../src/formats/tensor-index.ts';
import { f32SafetensorsHead, oneModelManifest } from './one-model.ts';
import { median } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '528' },
    'rss-mib': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
  },
});
const MiB = 1024 * 1024;
const RUNS = Number(args.runs);
const CLI = new URL('../bin/model-gitops.js', import.meta.url).pathname;
const TENSOR_BYTES = 16 * MiB;
const RSS_GOAL_KB = 256 * 1024;

/** Incompressible, reproducible bytes: the AES-256-CTR keystream of a seed-derived key. */
function fillSeeded(buf: Buffer, seed: number): void {
  const key = createHash('sha256').update(`seed-${seed}`).digest();
  createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(buf.fill(0)).copy(buf);
}

/** A safetensors file of `count` F32 tensors of TENSOR_BYTES, written tensor by tensor (never whole in memory). */
function writeSafetensors(path: string, count: number, seedFor: (i: number) => number): void {
  const fd = openSync(path, 'w');
  writeSync(fd, f32SafetensorsHead(count, TENSOR_BYTES));
  const buf = Buffer.allocUnsafe(TENSOR_BYTES);
  for (let i = 0; i < count; i++) {
    fillSeeded(buf, seedFor(i));
    writeSync(fd, buf);
  }
  closeSync(fd);
}

/** Runs a command; wall seconds (this process's clock) and peak RSS in KB (GNU time, of the command itself). */
function timed(cmd: string, argv: string[], cwd?: string): { s: number; rssKb: number; status: number; out: string } {
  const rssFile = join(work, 'rss.txt');
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...argv], {
    encoding: 'utf8',
    cwd,
    maxBuffer: 64 * MiB,
  });
  const s = (performance.now() - t0) / 1000;
  const rssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  return { s, rssKb, status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const cli = (argv: string[], cwd: string) => timed(process.execPath, [CLI, ...argv], cwd);
const warm = (file: string) => spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });

const work = mkdtempSync(join(tmpdir(), 'mg-push-hash-'));
try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; node ${process.version}; ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim()}`,
  );
  const reg = join(work, 'reg');
  mkdirSync(reg);
  for (const argv of [['init'], ['new', 'bench', '--owner', '@acme/ml', '--task', 'bench', '--description', 'bench']]) {
    const r = cli(argv, reg);
    if (r.status !== 0) throw new Error(`model-gitops ${argv[0]} failed: ${r.out}`);
  }
  const pushArgs = (dir: string, extra: string[] = [], version = '1.0.0') => [
    'push',
    dir,
    '--model',
    'bench',
    '--version',
    version,
    '--summary',
    'bench',
    '--draft',
    '--json',
    ...extra,
  ];
  const coldCache = () => rmSync(join(reg, '.model-gitops', 'hash-cache.json'), { force: true });

  // ---- 1 and 2: hashing time --------------------------------------------------------------------
  const count = Math.ceil((Number(args['size-mib']) * MiB) / TENSOR_BYTES);
  const big = join(work, 'big');
  const tiny = join(work, 'tiny');
  mkdirSync(big);
  mkdirSync(tiny);
  const bigFile = join(big, 'model.safetensors');
  writeSafetensors(bigFile, count, (i) => i);
  writeFileSync(join(big, 'config.json'), '{"model_type":"bench"}\n');
  writeFileSync(join(tiny, 'config.json'), '{"model_type":"bench"}\n');
  warm(bigFile);
  const size = count * TENSOR_BYTES;
  console.log(`model: ${count} F32 tensors x 16 MiB = ${(size / MiB).toFixed(0)} MiB (+ header), page cache warm`);

  const rows = { openssl: [] as number[], tiny: [] as number[], push: [] as number[], lib: [] as number[] };
  let pushRss = 0;
  for (let run = 0; run < RUNS; run++) {
    const o = timed('openssl', ['dgst', '-sha256', bigFile]);
    if (o.status !== 0) throw new Error(`openssl failed: ${o.out}`);
    rows.openssl.push(o.s);
    coldCache();
    rows.tiny.push(cli(pushArgs(tiny, ['--dry-run']), reg).s);
    coldCache();
    const p = cli(pushArgs(big, ['--dry-run']), reg);
    if (!p.out.includes('model.safetensors')) throw new Error(`push --dry-run failed: ${p.out.slice(-2000)}`);
    rows.push.push(p.s);
    pushRss = Math.max(pushRss, p.rssKb);
    const t0 = performance.now();
    await indexFile(bigFile, 'safetensors');
    rows.lib.push((performance.now() - t0) / 1000);
  }
  const openssl = median(rows.openssl);
  const tinyPush = median(rows.tiny);
  const push = median(rows.push);
  const lib = median(rows.lib);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  const net = (push - tinyPush) / openssl;
  console.log('');
  console.log(`| measurement (median of ${RUNS}) | seconds | runs | ratio to openssl |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| openssl dgst -sha256 | ${openssl.toFixed(2)} | ${list(rows.openssl)} | 1.00x |`);
  console.log(
    `| push --dry-run, cold hash cache | ${push.toFixed(2)} | ${list(rows.push)} | ${(push / openssl).toFixed(2)}x gross |`,
  );
  console.log(
    `| push --dry-run of a one-file folder (process start) | ${tinyPush.toFixed(2)} | ${list(rows.tiny)} | |`,
  );
  console.log(
    `| **push --dry-run net of process start** | **${(push - tinyPush).toFixed(2)}** | | **${net.toFixed(2)}x** (goal <= 1.3x: ${net <= 1.3 ? 'met' : 'NOT met'}) |`,
  );
  console.log(
    `| indexFile in process (whole-file + ${count} tensor digests, one pass) | ${lib.toFixed(2)} | ${list(rows.lib)} | ${(lib / openssl).toFixed(2)}x |`,
  );
  console.log(`\npush --dry-run peak RSS on ${(size / MiB).toFixed(0)} MiB: ${(pushRss / 1024).toFixed(0)} MiB`);
  rmSync(big, { recursive: true, force: true });

  // ---- 3: peak RSS of push and sync on a 1 GiB model ---------------------------------------------
  const rssCount = Math.ceil((Number(args['rss-mib']) * MiB) / TENSOR_BYTES);
  const store = join(work, 'store');
  const files: { sha256: string; size: number }[] = [];
  const rss: [string, number][] = [];
  for (const [v, seedFor] of [
    ['1.0.0', (i: number) => 1000 + i],
    ['1.1.0', (i: number) => (i === 7 ? 99 : 1000 + i)],
  ] as const) {
    const dir = join(work, `m-${v}`);
    mkdirSync(dir);
    const file = join(dir, 'model.safetensors');
    writeSafetensors(file, rssCount, seedFor);
    warm(file);
    coldCache();
    const p = cli(pushArgs(dir, ['--store', store], v), reg);
    if (!p.out.includes('model.safetensors')) throw new Error(`push failed: ${p.out.slice(-2000)}`);
    rss.push([`push ${v} to a folder store (cold hash cache: hash, index, copy)`, p.rssKb]);
    const { sha256, size: fileSize } = await indexFile(file, 'safetensors');
    files.push({ sha256, size: fileSize });
    rmSync(dir, { recursive: true, force: true });
  }
  files.forEach((f, k) => {
    const version = k === 0 ? '1.0.0' : '1.1.0';
    const m = oneModelManifest(
      k + 1,
      version,
      { ...f, path: 'model.safetensors' },
      { family: 'bench', parameters: 1, format: 'safetensors', dtype: 'f32' },
    );
    writeFileSync(join(store, `manifest-${k + 1}.json`), JSON.stringify(m));
  });
  const device = join(work, 'device');
  for (const [k, what] of [
    [1, 'sync: first install (whole 1 GiB download)'],
    [2, 'sync: one-tensor update (delta)'],
  ] as const) {
    const s = cli(
      [
        'sync',
        '--manifest',
        join(store, `manifest-${k}.json`),
        '--environment',
        'production',
        '--dir',
        device,
        '--json',
      ],
      work,
    );
    if (s.status !== 0) throw new Error(`sync failed: ${s.out.slice(-2000)}`);
    rss.push([what, s.rssKb]);
  }
  console.log('');
  console.log(
    `| peak RSS, ${rssCount} x 16 MiB = ${((rssCount * TENSOR_BYTES) / MiB).toFixed(0)} MiB model | MiB | goal <= 256 MiB |`,
  );
  console.log('| --- | --- | --- |');
  for (const [what, kb] of rss)
    console.log(`| ${what} | ${(kb / 1024).toFixed(0)} | ${kb <= RSS_GOAL_KB ? 'met' : 'NOT met'} |`);
  console.log(
    `| push --dry-run, ${(size / MiB).toFixed(0)} MiB model (above) | ${(pushRss / 1024).toFixed(0)} | ${pushRss <= RSS_GOAL_KB ? 'met' : 'NOT met'} |`,
  );
  console.log(
    `\nload average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (net > 1.3 || rss.some(([, kb]) => kb > RSS_GOAL_KB) || pushRss > RSS_GOAL_KB) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
