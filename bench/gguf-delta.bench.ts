// GGUF delta sync, one run: a generated llama-style GGUF v3 (~250 MB: Q8_0 attention and FFN weights,
// F32 norms, a 32k-token vocabulary in the metadata) and a version 2 that changes one tensor. Both are
// pushed with the real push (which writes the format-neutral tensor index) into a folder store; a device
// holding version 1 syncs version 2. Reported: blob bytes our sync fetched against the changed tensor
// (goal <= 1.01x the changed tensors plus the header; an unchanged header is copied, not fetched), against the whole file (what a GGUF cost before
// it was indexed), and against `rsync --stats` (daemon on 127.0.0.1, delta algorithm) doing the same update.
// Usage: node_modules/.bin/node bench/gguf-delta.bench.ts [--layers 8]. Needs rsync for the peer.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TensorIndex } from '../src/formats/tensor-index.ts';
import type { Manifest } from '../src/manifest/manifest.ts';
import { FolderStore } from '../src/store/fs-store.ts';
import { indexKey } from '../src/store/keys.ts';
import { oneModelManifest } from './one-model.ts';
import { pushFolder } from '../src/store/push.ts';
import { syncEnvironment } from '../src/sync/engine.ts';
import { FolderSource } from '../src/sync/folder-source.ts';
import type { SyncEvent } from '../src/sync/types.ts';
import { encodeGguf, type GgufTensorSpec } from '../test/helpers/gguf.ts';

const { values: args } = parseArgs({ options: { layers: { type: 'string', default: '8' } } });
const LAYERS = Number(args.layers);
const CHANGED = `blk.${Math.floor(LAYERS / 2)}.attn_q.weight`;
const N_EMBD = 2048;
const N_FF = 4096;
const N_VOCAB = 32000;
const fmt = (n: number) => n.toLocaleString('en-US');
const mib = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;

/** Incompressible, reproducible bytes: the AES-256-CTR keystream of a seed-derived key. */
function seeded(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}
const q8 = (values: number) => (values / 32) * 34;

function model(changedSeed: string): Buffer {
  const tensors: GgufTensorSpec[] = [];
  const add = (name: string, type: 'F32' | 'Q8_0', dims: number[]) => {
    const values = dims.reduce((a, b) => a * b, 1);
    const bytes = type === 'F32' ? values * 4 : q8(values);
    tensors.push({ name, type, dims, data: seeded(name === CHANGED ? changedSeed : name, bytes) });
  };
  add('token_embd.weight', 'Q8_0', [N_EMBD, N_VOCAB / 8]);
  for (let l = 0; l < LAYERS; l++) {
    add(`blk.${l}.attn_norm.weight`, 'F32', [N_EMBD]);
    add(`blk.${l}.attn_q.weight`, 'Q8_0', [N_EMBD, N_EMBD]);
    add(`blk.${l}.attn_k.weight`, 'Q8_0', [N_EMBD, N_EMBD / 4]);
    add(`blk.${l}.attn_v.weight`, 'Q8_0', [N_EMBD, N_EMBD / 4]);
    add(`blk.${l}.attn_output.weight`, 'Q8_0', [N_EMBD, N_EMBD]);
    add(`blk.${l}.ffn_norm.weight`, 'F32', [N_EMBD]);
    add(`blk.${l}.ffn_up.weight`, 'Q8_0', [N_EMBD, N_FF]);
    add(`blk.${l}.ffn_down.weight`, 'Q8_0', [N_FF, N_EMBD]);
  }
  add('output_norm.weight', 'F32', [N_EMBD]);
  add('output.weight', 'Q8_0', [N_EMBD, N_VOCAB / 8]);
  return encodeGguf({
    version: 3,
    metadata: {
      'general.architecture': 'llama',
      'general.name': 'bench',
      'llama.block_count': LAYERS,
      'llama.embedding_length': N_EMBD,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': Array.from({ length: N_VOCAB }, (_, i) => `tok${i}`),
      'tokenizer.ggml.scores': Array.from({ length: N_VOCAB }, (_, i) => -i / 7),
    },
    tensors,
  });
}

function manifest(sequence: number, version: string, f: { sha256: string; size: number }): Manifest {
  return oneModelManifest(
    sequence,
    version,
    { ...f, path: 'model.gguf' },
    { family: 'llama', parameters: 1, format: 'gguf', dtype: 'q8_0' },
  );
}

const work = mkdtempSync(join(tmpdir(), 'mg-gguf-bench-'));
let daemon: ReturnType<typeof spawn> | undefined;
try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const storeDir = join(work, 'store');
  const store = new FolderStore(storeDir);
  const pushed: Record<string, { sha256: string; size: number; path: string }> = {};
  for (const [version, seed] of [
    ['1.0.0', 'v1'],
    ['1.1.0', 'v2'],
  ] as const) {
    const dir = join(work, `model-${version}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.gguf'), model(seed));
    const [r] = await pushFolder({ dir, store, stateDir: join(work, 'push-state') });
    if (!r?.indexKey) throw new Error('push wrote no index for model.gguf');
    pushed[version] = { sha256: r.sha256, size: r.size, path: join(dir, 'model.gguf') };
  }
  const v1 = pushed['1.0.0']!;
  const v2 = pushed['1.1.0']!;
  const indexText = readFileSync(join(storeDir, indexKey(v2.sha256)));
  const index = JSON.parse(indexText.toString()) as TensorIndex;
  const changed = index.tensors.find((t) => t.name === CHANGED)!;
  const changedBytes = changed.end - changed.start;
  const header = index.regions[0]!.end;
  const padding = index.regions.filter((r) => r.kind === 'padding');
  console.log(
    `model: GGUF v3, ${index.tensors.length} tensors (Q8_0 + F32), ${mib(v2.size)}; header + metadata ${fmt(header)} B; ` +
      `${padding.length} padding regions (${padding.filter((r) => r.zero).length} zero); index ${fmt(indexText.length)} B; ` +
      `version 2 changes ${CHANGED} (${fmt(changedBytes)} B)`,
  );

  // Our device: install v1, then sync v2.
  const device = join(work, 'device');
  const source = new FolderSource(storeDir);
  const events: SyncEvent[] = [];
  const sync = (m: Manifest) =>
    syncEnvironment({ manifest: m, environment: 'production', dir: device, source, onEvent: (e) => events.push(e) });
  await sync(manifest(1, '1.0.0', v1));
  events.length = 0;
  const t0 = performance.now();
  const r = await sync(manifest(2, '1.1.0', v2));
  const ms = performance.now() - t0;
  const file = events.find((e) => e.type === 'file' && e.path === 'model.gguf') as Extract<SyncEvent, { type: 'file' }>;
  if (file?.how !== 'delta') throw new Error(`expected a delta, got ${JSON.stringify(events)}`);
  const blobBytes = file.bytesFetched - indexText.length; // the event counts the index object too
  const installed = readFileSync(join(device, 'models/llm/current/model.gguf'));
  if (createHash('sha256').update(installed).digest('hex') !== v2.sha256) throw new Error('device file differs');

  // rsync peer: daemon on 127.0.0.1, the destination holding v1 under the same name.
  let rsync: { received: number; sent: number; ms: number } | undefined;
  if (spawnSync('rsync', ['--version']).status === 0) {
    const mod = join(work, 'rsync-src');
    mkdirSync(mod);
    linkSync(v2.path, join(mod, 'model.gguf'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = join(work, 'rsyncd.conf');
    writeFileSync(
      conf,
      `pid file = ${join(work, 'rsyncd.pid')}\nuse chroot = no\nuid = ${process.getuid?.()}\ngid = ${process.getgid?.()}\n[m]\npath = ${mod}\nread only = yes\n`,
    );
    daemon = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], {
      stdio: 'ignore',
    });
    await new Promise((res) => setTimeout(res, 500));
    const dst = join(work, 'rsync-dst');
    mkdirSync(dst);
    spawnSync('cp', [v1.path, join(dst, 'model.gguf')]);
    const t1 = performance.now();
    const out = spawnSync(
      'rsync',
      ['-a', '--stats', '--no-whole-file', `rsync://127.0.0.1:${port}/m/model.gguf`, join(dst, 'model.gguf')],
      { encoding: 'utf8' },
    );
    if (out.status !== 0) throw new Error(`rsync failed: ${out.stderr}`);
    const num = (label: string) =>
      Number(new RegExp(`${label}: ([\\d,]+)`).exec(out.stdout)?.[1]?.replace(/,/g, '') ?? Number.NaN);
    rsync = { received: num('Total bytes received'), sent: num('Total bytes sent'), ms: performance.now() - t1 };
  }

  const goal = changedBytes * 1.01 + header;
  console.log('');
  console.log('| measurement | bytes | ratio | note |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| changed tensor (${CHANGED}) | ${fmt(changedBytes)} | 1.00x | |`);
  console.log(
    `| header region (magic, metadata with the vocabulary, tensor infos, alignment) | ${fmt(header)} | | parsed and checked against the index; copied from the local version when its sha256 matches |`,
  );
  console.log(
    `| **our delta sync, blob bytes** | **${fmt(blobBytes)}** | **${(blobBytes / changedBytes).toFixed(4)}x** the changed tensor; ${(blobBytes / (changedBytes + header)).toFixed(4)}x changed + header | goal <= ${fmt(Math.floor(goal))} (1.01x + header): ${blobBytes <= goal ? 'met' : 'NOT met'}; ${r.requests} requests (the index included), ${Math.round(ms)} ms |`,
  );
  console.log(
    `| our sync, everything (+ index ${fmt(indexText.length)} B) | ${fmt(file.bytesFetched)} | | reused locally: ${fmt(r.bytesReused)} B |`,
  );
  console.log(
    `| whole-file download (a GGUF without a tensor index) | ${fmt(v2.size)} | ${(v2.size / changedBytes).toFixed(1)}x | |`,
  );
  if (rsync)
    console.log(
      `| rsync --stats (daemon on 127.0.0.1, delta) | ${fmt(rsync.received)} received + ${fmt(rsync.sent)} sent | ${(rsync.received / changedBytes).toFixed(4)}x the changed tensor; ours / rsync's: ${(blobBytes / rsync.received).toFixed(3)}x | ${Math.round(rsync.ms)} ms |`,
    );
  console.log(
    `\nload average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  if (blobBytes > goal) process.exitCode = 1;
} finally {
  daemon?.kill();
  rmSync(work, { recursive: true, force: true });
}
