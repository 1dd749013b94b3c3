// Weight-store benchmark, all in one run on the same files:
//   1. sha256 throughput: our hashFile vs `sha256sum` on a 1 GiB file (page cache warm for both);
//   2. upload to radosgw: pushFolder (cold hash cache: hash + upload) vs `rclone copy` (defaults);
//   3. re-push of the unchanged 1 GiB model (warm hash cache): bytes sent and time.
// Usage: node_modules/.bin/node bench/store.bench.ts [--size-mib 1024] [--runs 3]
// S3: uses S3_ENDPOINT + AWS credentials if set, else starts a private radosgw via scripts/s3-server.sh.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { hashFile } from '../src/lib/hash.ts';
import { openStore } from '../src/store/open.ts';
import { pushFolder } from '../src/store/push.ts';
import { s3ClientConfig } from '../src/store/s3-store.ts';
import { startPrivateS3 } from '../scripts/s3-private.ts';
import type { BlobStore } from '../src/store/types.ts';
import { median } from './stats.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '1024' }, runs: { type: 'string', default: '3' } },
});
const SIZE = Number(args['size-mib']) * 1024 * 1024;
const RUNS = Number(args.runs);

// Median; for an even count the mean of the middle two.
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  const buf = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (let done = 0; done < size; done += buf.length) {
    const n = Math.min(buf.length, size - done);
    randomFillSync(buf, 0, n);
    await fh.write(buf, 0, n);
  }
  await fh.close();
}

async function startS3(): Promise<() => Promise<void>> {
  if (process.env.S3_ENDPOINT) return async () => {};
  return startPrivateS3({ memBytes: 8 * 1024 ** 3 }); // room for a 1 GiB upload while earlier ones are reclaimed
}

async function emptyStore(store: BlobStore): Promise<void> {
  for await (const o of store.list('')) await store.delete(o.key);
}

function rclone(src: string, dest: string): Promise<void> {
  const remote =
    `:s3,provider=Ceph,endpoint="${process.env.S3_ENDPOINT}",access_key_id=${process.env.AWS_ACCESS_KEY_ID},` +
    `secret_access_key=${process.env.AWS_SECRET_ACCESS_KEY},region=us-east-1,force_path_style=true:${dest}`;
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE; // rclone refuses a custom CA bundle with its HTTP transport; the endpoint is plain http
  return new Promise((resolve, reject) => {
    const p = spawn('rclone', ['copy', src, remote, '--config', '/dev/null'], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rclone exited ${code}`))));
  });
}

const work = await mkdtemp(join(tmpdir(), 'mg-bench-'));
const stop = await startS3();
try {
  const model = join(work, 'model');
  await mkdir(model);
  const file = join(model, 'model.bin');
  await writeRandomFile(file, SIZE);
  await hashFile(file); // bring it into the page cache for both hashers
  const { version } = await run('rclone', ['version']).then((r) => ({ version: r.stdout.split('\n')[0] }));

  // 1. sha256
  const ours: number[] = [];
  const coreutils: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ours.push(await timed(() => hashFile(file)));
    coreutils.push(await timed(() => run('sha256sum', [file])));
  }

  // 2. upload: alternate ours / rclone, fresh bucket prefix each time, emptied after.
  const bucket = `mg-bench-${Date.now().toString(36)}`;
  await new S3Client(s3ClientConfig()).send(new CreateBucketCommand({ Bucket: bucket }));
  // The first PUT and the first multipart upload on a fresh radosgw create its pools (seconds each):
  // pay that before timing, with a small multipart push from both tools.
  const warmDir = join(work, 'warmup');
  await mkdir(warmDir);
  await writeRandomFile(join(warmDir, 'w.bin'), 40 * 1024 * 1024);
  const warm = openStore(`s3://${bucket}/warmup`, { s3: { stateDir: join(work, 'state-warmup') } });
  await pushFolder({ dir: warmDir, store: warm, stateDir: join(work, 'state-warmup') });
  await rclone(warmDir, `${bucket}/warmup-rc`);
  await emptyStore(warm);
  await emptyStore(openStore(`s3://${bucket}/warmup-rc`));
  const push: number[] = [];
  const rc: number[] = [];
  let last: { store: BlobStore; stateDir: string } | undefined;
  for (let i = 0; i < RUNS; i++) {
    const stateDir = join(work, `state-${i}`); // cold hash cache: push hashes, then uploads
    const store = openStore(`s3://${bucket}/push-${i}`, { s3: { stateDir } });
    const ours = async () => push.push(await timed(() => pushFolder({ dir: model, store, stateDir })));
    const theirs = async () => {
      rc.push(await timed(() => rclone(model, `${bucket}/rclone-${i}`)));
      await emptyStore(openStore(`s3://${bucket}/rclone-${i}`));
    };
    if (last) await emptyStore(last.store);
    // Alternate who goes first, so a drift in server or machine load does not favour one tool.
    if (i % 2 === 0) await ours().then(theirs);
    else await theirs().then(ours);
    last = { store, stateDir };
  }

  // 3. re-push unchanged (warm hash cache, blob already in the store)
  const again: number[] = [];
  let sent = 0;
  for (let i = 0; i < RUNS; i++) {
    again.push(
      await timed(async () => {
        const r = await pushFolder({ dir: model, store: last!.store, stateDir: last!.stateDir });
        sent += r.reduce((a, f) => a + f.sentBytes, 0);
      }),
    );
  }

  const mib = SIZE / 1024 / 1024;
  const result = {
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGiB: Math.round(totalmem() / 1024 ** 3),
      node: process.version,
    },
    fileMiB: mib,
    sha256: {
      oursS: median(ours),
      sha256sumS: median(coreutils),
      oursMiBs: mib / median(ours),
      sha256sumMiBs: mib / median(coreutils),
      ratio: median(coreutils) / median(ours),
      runs: { ours, sha256sum: coreutils },
    },
    upload: {
      pushS: median(push),
      rcloneS: median(rc),
      pushMiBs: mib / median(push),
      rcloneMiBs: mib / median(rc),
      ratio: median(rc) / median(push),
      rclone: version,
      runs: { push, rclone: rc },
    },
    repush: { medianS: median(again), bytesSent: sent, runs: again },
  };
  const f = (x: number) => x.toFixed(2);
  console.log(
    `\nWeight store benchmark: ${mib} MiB file, ${result.machine.cpus} cores (${result.machine.cpuModel}), Node ${process.version}, median of runs\n`,
  );
  console.log('| measure | ours | reference | ours / reference |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| sha256 (page cache warm) | ${f(result.sha256.oursS)} s (${result.sha256.oursMiBs.toFixed(0)} MiB/s) | sha256sum ${f(result.sha256.sha256sumS)} s (${result.sha256.sha256sumMiBs.toFixed(0)} MiB/s) | ${f(result.sha256.ratio)}x speed |`,
  );
  console.log(
    `| upload to radosgw (cold hash cache) | ${f(result.upload.pushS)} s (${result.upload.pushMiBs.toFixed(0)} MiB/s) | rclone copy ${f(result.upload.rcloneS)} s (${result.upload.rcloneMiBs.toFixed(0)} MiB/s) | ${f(result.upload.ratio)}x speed |`,
  );
  console.log(`| re-push unchanged | ${f(result.repush.medianS)} s, ${result.repush.bytesSent} bytes sent | - | - |`);
  console.log('\nJSON ' + JSON.stringify(result));
} finally {
  await stop();
  await rm(work, { recursive: true, force: true });
}
