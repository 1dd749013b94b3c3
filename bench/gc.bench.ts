// gc on a folder store of 10,000 blobs (4 KiB each): 5,000 referenced by 3 retained manifests, 5,000
// garbage older than the grace period. Timed: the dry run, then `--delete` while a publisher keeps
// pushing fresh blobs and writing manifests that reference them plus already-referenced ones (the
// order publish uses: blobs first, verified, then the manifest). Afterwards every blob any manifest
// references must be present with bytes that hash to its name: "lost" must be 0.
// Peer: the floor of the same deletions, a plain unlink of exactly the garbage files (no marking).
// `node bench/gc.bench.ts [blobs]` (or `npm run bench gc`). Folder store: 10,000 PUTs to radosgw on
// this 2-core machine would take minutes of setup for one number.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectGarbage } from '../src/lifecycle/gc.ts';
import { FolderStore } from '../src/store/fs-store.ts';
import { blobKey, manifestSequenceKey } from '../src/store/keys.ts';

const N = Number(process.argv[2] ?? 10_000);
const SIZE = 4096;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function manifestOf(sequence: number, shas: string[]): string {
  return JSON.stringify({
    schemaVersion: 1,
    sequence,
    publishedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    source: { repository: 'bench/gc', commit: '0'.repeat(40) },
    layout: { blob: 'blobs/sha256/{sha256}', index: 'indexes/sha256/{sha256}.json' },
    environments: {},
    models: {
      bench: { versions: { '1.0.0': { files: shas.map((s, i) => ({ path: `f${i}`, sha256: s, size: SIZE })) } } },
    },
  });
}

async function setup(): Promise<{ store: FolderStore; repo: string; garbage: string[]; referenced: string[] }> {
  const work = mkdtempSync(join(tmpdir(), 'mg-gcbench-'));
  const repo = join(work, 'repo');
  mkdirSync(repo);
  cpSync(join(ROOT, 'examples/fleet/models'), join(repo, 'models'), { recursive: true });
  cpSync(join(ROOT, 'examples/fleet/environments'), join(repo, 'environments'), { recursive: true });
  const git = (...a: string[]) =>
    execFileSync('git', a, { cwd: repo, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=b@e', 'commit', '-qm', 'fleet');
  const store = new FolderStore(join(work, 'store'));
  const src = join(work, 'src');
  mkdirSync(src);
  const all: string[] = [];
  for (let i = 0; i < N; i++) {
    const b = randomBytes(SIZE);
    const f = join(src, 'b');
    writeFileSync(f, b);
    await store.putFile(blobKey(sha(b)), f, { sha256: sha(b), size: SIZE });
    all.push(sha(b));
  }
  const referenced = all.slice(0, N / 2);
  const garbage = all.slice(N / 2);
  const third = Math.ceil(referenced.length / 3);
  for (let s = 0; s < 3; s++)
    await store.putObject(manifestSequenceKey(s + 1), manifestOf(s + 1, referenced.slice(s * third, (s + 1) * third)));
  const past = new Date(Date.now() - 7 * 86_400_000);
  for (const s of all) utimesSync(join(store.root, blobKey(s)), past, past);
  return { store, repo, garbage, referenced };
}

async function lost(store: FolderStore): Promise<{ checked: number; lost: number }> {
  const refs = new Set<string>();
  for await (const o of store.list('manifests/')) {
    const m = JSON.parse((await store.getBytes(o.key)).toString()) as {
      models: Record<string, { versions: Record<string, { files: { sha256: string }[] }> }>;
    };
    for (const mv of Object.values(m.models))
      for (const v of Object.values(mv.versions)) for (const f of v.files) refs.add(f.sha256);
  }
  let missing = 0;
  for (const s of refs) {
    const b = await readFile(join(store.root, blobKey(s))).catch(() => undefined);
    if (!b || sha(b) !== s) missing++;
  }
  return { checked: refs.size, lost: missing };
}

const t = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
};

console.log(
  `gc bench: ${N} blobs of ${SIZE} B on the folder store; ${cpus().length} CPUs, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const fx = await setup();
const [dry, dryS] = await t(() =>
  collectGarbage({ store: fx.store, repo: fx.repo, graceSeconds: 3600, keepManifests: 10 }),
);
console.log(`dry run: ${dryS.toFixed(2)} s, would delete ${dry.deleted.length} objects, ${dry.reclaimedBytes} bytes`);

// The racing publisher: fresh blobs (younger than the grace), then a manifest naming them and some referenced ones.
let stop = false;
let published = 0;
const pushDir = mkdtempSync(join(tmpdir(), 'mg-gcpush-'));
const publisher = (async () => {
  let seq = 100;
  while (!stop) {
    const fresh: string[] = [];
    for (let i = 0; i < 20; i++) {
      const b = randomBytes(SIZE);
      const f = join(pushDir, 'p');
      writeFileSync(f, b);
      await fx.store.putFile(blobKey(sha(b)), f, { sha256: sha(b), size: SIZE });
      fresh.push(sha(b));
    }
    const old = fx.referenced.slice((published * 7) % 4000, ((published * 7) % 4000) + 50);
    await fx.store.putObject(manifestSequenceKey(seq++), manifestOf(seq, [...fresh, ...old]));
    published++;
    await new Promise((r) => setTimeout(r, 5));
  }
})();
const [real, realS] = await t(() =>
  collectGarbage({ store: fx.store, repo: fx.repo, graceSeconds: 3600, keepManifests: 1000, delete: true }),
);
stop = true;
await publisher;
const check = await lost(fx.store);
console.log(
  `--delete with a racing publisher: ${realS.toFixed(2)} s, deleted ${real.deleted.length} objects, ${real.reclaimedBytes} bytes reclaimed, ` +
    `${real.rereads} re-reads of the references, ${published} manifests published meanwhile`,
);
console.log(`referenced blobs checked afterwards: ${check.checked}, lost: ${check.lost}`);

// Floor: unlink exactly the garbage files of a fresh copy (no listing, no marking, no re-checks).
const floor = await setup();
const [, floorS] = await t(async () => {
  for (const s of floor.garbage) await unlink(join(floor.store.root, blobKey(s)));
});
console.log(
  `floor (plain unlink of the ${floor.garbage.length} garbage files): ${floorS.toFixed(2)} s; gc --delete / floor = ${(realS / floorS).toFixed(1)}x`,
);
rmSync(pushDir, { recursive: true, force: true });
if (check.lost !== 0 || real.deleted.length !== N / 2) {
  console.error(`FAILED: lost ${check.lost}, deleted ${real.deleted.length} of ${N / 2}`);
  process.exit(1);
}
