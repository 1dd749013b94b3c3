// Edge sync benchmark: one generated safetensors model (~300 MB, 40 tensors), a "fine-tune" that
// changes 3 tensors, and in the same run:
//   - bytes our delta sync downloads vs the changed tensors' size (goal <= 1.01x + header),
//   - bytes and time vs rsync (daemon on 127.0.0.1, delta algorithm) doing the same update, with
//     --fsync (it flushes the new file, as our sync does) and without,
//   - the cost of an unchanged poll (goal: one 304, no body).
// `node bench/sync.bench.ts [tensors] [MiB per tensor]` (default 40 x 7.5 MiB; SYNC_REPS=5 interleaved
// updates each). Needs rsync for the peer.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  writeSync,
  writeFileSync,
  rmSync,
  statSync,
  linkSync,
} from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f32SafetensorsHead, oneModelManifest } from './one-model.ts';
import { pollAndSync } from '../src/sync/client.ts';
import { HttpSource } from '../src/sync/http-source.ts';
import { SourceManifestProvider } from '../src/sync/manifest-provider.ts';
import { acceptedForProvider } from '../src/sync/client.ts';

const TENSORS = Number(process.argv[2] ?? 40);
const TENSOR_BYTES = Math.round((Number(process.argv[3] ?? 7.5) * 1048576) / 4) * 4;
const CHANGED = [5, 17, 33].filter((i) => i < TENSORS);
const REPS = Number(process.env.SYNC_REPS ?? 5);
const work = mkdtempSync(join(tmpdir(), 'mg-sync-bench-'));
const store = join(work, 'store');
const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
const fmt = (n: number) => n.toLocaleString('en-US');

/** Writes a safetensors file tensor by tensor (never whole in memory); returns sha256, size, index. */
function writeModel(path: string, seedFor: (i: number) => number) {
  const head = f32SafetensorsHead(TENSORS, TENSOR_BYTES);
  const whole = createHash('sha256').update(head);
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  const tensors = [];
  const buf = Buffer.allocUnsafe(TENSOR_BYTES);
  for (let i = 0; i < TENSORS; i++) {
    fillSeeded(buf, seedFor(i));
    writeSync(fd, buf);
    whole.update(buf);
    const start = head.length + i * TENSOR_BYTES;
    tensors.push({
      name: `layers.${i}.weight`,
      dtype: 'F32',
      shape: [TENSOR_BYTES / 4],
      start,
      end: start + TENSOR_BYTES,
      sha256: createHash('sha256').update(buf).digest('hex'),
    });
  }
  closeSync(fd);
  return {
    sha256: whole.digest('hex'),
    size: head.length + TENSORS * TENSOR_BYTES,
    index: { format: 'safetensors', headerSize: head.length - 8, tensors },
  }; // the store's index format: headerSize = JSON length
}

/** Incompressible like real weights, and reproducible: the AES-256-CTR keystream of a seed-derived key. */
function fillSeeded(buf: Buffer, seed: number): void {
  const key = createHash('sha256').update(`seed-${seed}`).digest();
  const aes = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  aes.update(buf.fill(0)).copy(buf);
}

function publish(name: string, sequence: number, version: string, file: { sha256: string; size: number }): void {
  const m = oneModelManifest(
    sequence,
    version,
    { ...file, path: 'model.safetensors' },
    { family: 'bench', parameters: (TENSORS * TENSOR_BYTES) / 4, format: 'safetensors', dtype: 'f32' },
  );
  writeFileSync(join(store, name), JSON.stringify(m));
}

/** A static file server with Range, ETag and If-None-Match, counting the body bytes it sends. */
async function serve(root: string) {
  const stats = { bodyBytes: 0, requests: 0, notModified: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    const path = join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    let st;
    try {
      st = statSync(path);
    } catch {
      res.writeHead(404).end();
      return;
    }
    const size = st.size;
    const etag = `"${size.toString(16)}-${st.mtimeMs.toString(16)}-${st.ino.toString(16)}"`;
    if (req.headers['if-none-match'] === etag) {
      stats.notModified++;
      res.writeHead(304, { etag }).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const [start, end] =
      m && (!req.headers['if-range'] || req.headers['if-range'] === etag)
        ? [Number(m[1]), Math.min(Number(m[2]) + 1, size)]
        : [0, size];
    res.writeHead(m ? 206 : 200, {
      etag,
      'content-length': end - start,
      ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${size}` } : {}),
    });
    const s = createReadStream(path, { start, end: end - 1 });
    s.on('data', (c) => {
      stats.bodyBytes += c.length;
    });
    s.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    stats,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function main() {
  mkdirSync(join(store, 'blobs/sha256'), { recursive: true });
  mkdirSync(join(store, 'indexes/sha256'), { recursive: true });
  const files: Record<string, ReturnType<typeof writeModel>> = {};
  for (const [v, seed] of [
    ['1.0.0', (i: number) => i],
    ['1.1.0', (i: number) => (CHANGED.includes(i) ? 1000 + i : i)],
  ] as const) {
    const tmp = join(store, `tmp-${v}`);
    const f = writeModel(tmp, seed);
    linkSync(tmp, join(store, 'blobs/sha256', f.sha256));
    writeFileSync(join(store, 'indexes/sha256', `${f.sha256}.json`), JSON.stringify(f.index));
    files[v] = f;
  }
  const v1 = files['1.0.0']!;
  const v2 = files['1.1.0']!;
  publish('manifest-1.json', 1, '1.0.0', v1);
  publish('manifest-2.json', 2, '1.1.0', v2);
  const changedBytes = CHANGED.length * TENSOR_BYTES;
  const headerSize = 8 + v2.index.headerSize; // bytes before the first tensor
  const indexSize = statSync(join(store, 'indexes/sha256', `${v2.sha256}.json`)).size;
  console.log(
    `model: ${TENSORS} tensors x ${mib(TENSOR_BYTES)} = ${mib(v2.size)}; fine-tune changes ${CHANGED.length} tensors (${mib(changedBytes)}); header ${fmt(headerSize)} B; index ${fmt(indexSize)} B`,
  );

  const server = await serve(store);
  const source = new HttpSource(server.url);
  const sync = async (device: string, key: string) => {
    const accepted = await acceptedForProvider(device);
    const before = { ...server.stats };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = await pollAndSync({
      provider: new SourceManifestProvider({ source, key, ...(accepted ? { accepted } : {}) }),
      source,
      environment: 'production',
      dir: device,
      keepVersions: 2,
    });
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this process (client and the in-process HTTP server): steadier than wall time on a VM whose writes stall.
    return {
      r,
      ms: performance.now() - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      bytes: server.stats.bodyBytes - before.bodyBytes,
      requests: server.stats.requests - before.requests,
      notModified: server.stats.notModified - before.notModified,
    };
  };
  // Dirty pages from the step before are flushed before each timed step, so its writeback lands on neither side.
  const flush = () => spawnSync('sync');
  const installed = join(work, 'device-v1');
  flush();
  const install = await sync(installed, 'manifest-1.json');

  // rsync peer: daemon on 127.0.0.1 (temp config), the device holding v1 under the same name.
  const haveRsync = spawnSync('rsync', ['--version']).status === 0;
  let rsyncUpdate: ((extra?: string[]) => Promise<{ ms: number; received: number; sent: number }>) | undefined;
  let daemon: ReturnType<typeof spawn> | undefined;
  if (haveRsync) {
    const mod = join(work, 'rsync-src');
    mkdirSync(mod);
    linkSync(join(store, 'blobs/sha256', v2.sha256), join(mod, 'model.safetensors'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = join(work, 'rsyncd.conf');
    writeFileSync(
      conf,
      // As this user: a daemon started by root otherwise serves as nobody, who cannot enter the 0700 temp folder.
      `pid file = ${join(work, 'rsyncd.pid')}\nuse chroot = no\nuid = ${process.getuid?.() ?? 0}\ngid = ${process.getgid?.() ?? 0}\n[m]\npath = ${mod}\nread only = yes\n`,
    );
    daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], {
      stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 500));
    rsyncUpdate = async (extra: string[] = []) => {
      const dst = join(work, 'rsync-dst');
      rmSync(dst, { recursive: true, force: true });
      mkdirSync(dst);
      spawnSync('cp', [join(store, 'blobs/sha256', v1.sha256), join(dst, 'model.safetensors')]);
      flush();
      const t0 = performance.now();
      const out = spawnSync(
        'rsync',
        [
          '-a',
          '--stats',
          '--no-whole-file',
          ...extra,
          `rsync://127.0.0.1:${port}/m/model.safetensors`,
          join(dst, 'model.safetensors'),
        ],
        { encoding: 'utf8' },
      );
      const ms = performance.now() - t0;
      const num = (label: string) =>
        Number(new RegExp(`${label}: ([\\d,]+)`).exec(out.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
      if (out.status !== 0) throw new Error(`rsync failed: ${out.stderr}`);
      const ok = createHash('sha256');
      for await (const c of createReadStream(join(dst, 'model.safetensors'))) ok.update(c as Buffer);
      if (ok.digest('hex') !== v2.sha256) throw new Error('rsync produced different bytes');
      return { ms, received: num('Total bytes received'), sent: num('Total bytes sent') };
    };
  }
  // Each update starts from a fresh copy of the installed device (hard links: blobs are read-only and
  // every write replaces a file by rename, so the copies share nothing that changes). Interleaved,
  // alternating which goes first, median reported.
  const ours: Awaited<ReturnType<typeof sync>>[] = [];
  const theirs: { ms: number; received: number; sent: number }[] = [];
  const theirsFsync: { ms: number }[] = []; // rsync --fsync: flushes the file it wrote, as our sync does before a blob enters the cache
  let device = '';
  for (let rep = 0; rep < REPS; rep++) {
    const runOurs = async () => {
      device = join(work, `device-${rep}`);
      spawnSync('cp', ['-al', installed, device]);
      flush();
      ours.push(await sync(device, 'manifest-2.json'));
    };
    if (rep % 2 === 0 || !rsyncUpdate) {
      await runOurs();
      if (rsyncUpdate) {
        theirs.push(await rsyncUpdate());
        theirsFsync.push(await rsyncUpdate(['--fsync']));
      }
    } else {
      theirsFsync.push(await rsyncUpdate(['--fsync']));
      theirs.push(await rsyncUpdate());
      await runOurs();
    }
  }
  const poll = await sync(device, 'manifest-2.json');
  daemon?.kill();
  source.close();
  await server.close();
  const update = ours[0]!;
  if (ours.some((u) => u.bytes !== update.bytes))
    throw new Error(`update bytes differ between repetitions: ${ours.map((u) => u.bytes).join(', ')}`);
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const oursMs = median(ours.map((u) => u.ms));
  const oursCpuMs = median(ours.map((u) => u.cpuMs));
  const rsync = theirs.length ? { ...theirs[0]!, ms: median(theirs.map((t) => t.ms)) } : undefined;
  const manifestBytes = statSync(join(store, 'manifest-2.json')).size;
  const deltaBlobBytes = update.bytes - manifestBytes - indexSize;

  const goal = changedBytes * 1.01 + headerSize;
  console.log('');
  console.log('| measurement | bytes on the wire | time | note |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| first install (v1, whole file + index + manifest) | ${fmt(install.bytes)} | ${install.ms.toFixed(0)} ms | ${install.requests} requests |`,
  );
  console.log(
    `| **update v1 -> v2, our delta sync** (blob ranges only) | **${fmt(deltaBlobBytes)}** | ${oursMs.toFixed(0)} ms (median of ${REPS}: ${ours.map((u) => u.ms.toFixed(0)).join(', ')}) | ${(deltaBlobBytes / changedBytes).toFixed(4)}x the changed tensors; goal <= ${fmt(Math.floor(goal))} (1.01x + header): ${deltaBlobBytes <= goal ? 'met' : 'MISSED'}; CPU ${oursCpuMs.toFixed(0)} ms (median) |`,
  );
  console.log(
    `| update, everything (manifest ${fmt(manifestBytes)} + index ${fmt(indexSize)} + ranges) | ${fmt(update.bytes)} | | ${update.requests} requests |`,
  );
  const fsyncMs = theirsFsync.length ? median(theirsFsync.map((t) => t.ms)) : undefined;
  if (fsyncMs !== undefined)
    console.log(
      `| update with rsync --fsync (flushes the new file, as we do) | same | ${fsyncMs.toFixed(0)} ms (median of ${REPS}: ${theirsFsync.map((t) => t.ms.toFixed(0)).join(', ')}) | our time / rsync --fsync's: **${(oursMs / fsyncMs).toFixed(2)}x** |`,
    );
  if (rsync)
    console.log(
      `| update with rsync (daemon on 127.0.0.1, delta) | ${fmt(rsync.received)} received + ${fmt(rsync.sent)} sent | ${rsync.ms.toFixed(0)} ms (median of ${REPS}: ${theirs.map((t) => t.ms.toFixed(0)).join(', ')}) | ${(rsync.received / deltaBlobBytes).toFixed(3)}x our bytes received; our time / rsync's: **${(oursMs / rsync.ms).toFixed(2)}x** |`,
    );
  console.log(
    `| unchanged poll | ${fmt(poll.bytes)} | ${poll.ms.toFixed(0)} ms | ${poll.requests} request(s), ${poll.notModified} x 304 |`,
  );
  console.log(`\nchanged tensors: ${fmt(changedBytes)} B; reused locally: ${fmt(update.r.bytesReused)} B`);
  rmSync(work, { recursive: true, force: true });
  if (deltaBlobBytes > goal || poll.bytes !== 0) process.exitCode = 1;
}

await main();
