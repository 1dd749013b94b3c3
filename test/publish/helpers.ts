// Publish tests: a real git repository holding the example fleet (examples/fleet), the demo weights pushed into a
// real store (folder or radosgw), a real trust repository with real ed25519 keys, and the real CLI in
// child processes.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeDemoWeights } from '../../scripts/demo-weights.ts';
import type { Manifest } from '../../src/manifest/manifest.ts';
import { openStore } from '../../src/store/open.ts';
import { pushFolder } from '../../src/store/push.ts';
import type { BlobStore } from '../../src/store/types.ts';
import { fetchVerifiedManifest, type TrustSource } from '../../src/trust/client.ts';
import { generateSigningKey } from '../../src/trust/keys.ts';
import { initRepository, type PublishKeys } from '../../src/trust/repository.ts';
import { keyFile, writeKeyFile } from '../../src/trust/role-keys.ts';
import { BlobTrustStore, openTrustStore } from '../../src/trust/store-io.ts';
import { ROOT, copyFleet, tempDir } from '../helpers.ts';
import { afterAll } from 'vitest';
import { createBucket, removeBucket } from '../helpers/s3.ts';

export interface Fixture {
  kind: 'folder' | 's3';
  repo: string;
  storeUrl: string;
  store: BlobStore;
  keysDir: string;
  keys: PublishKeys;
  rootBytes: Buffer;
  rootFile: string;
  git(...args: string[]): string;
  head(): string;
  /** Replace text in a repository file and commit; returns the new commit. */
  commitEdit(path: string, from: string, to: string, message?: string): string;
  trustSource(): TrustSource;
}

let weights: string[] | undefined;
function demoWeights(): string[] {
  weights ??= writeDemoWeights(tempDir('mg-weights-'));
  return weights;
}

let bucket: string | undefined;
// Registered when a test file imports this module (collection time).
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
  bucket = undefined;
});
/** One bucket per test file; every fixture gets its own prefix in it. */
export async function s3Base(): Promise<string> {
  bucket ??= await createBucket('publish');
  return `s3://${bucket}`;
}

export async function storeUrlFor(kind: 'folder' | 's3', label: string): Promise<string> {
  return kind === 'folder'
    ? join(tempDir('mg-pubstore-'), 'store')
    : `${await s3Base()}/${label}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function makeFixture(kind: 'folder' | 's3', label = 'fx'): Promise<Fixture> {
  const repo = tempDir('mg-pubrepo-');
  copyFleet(repo);
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    }).trim();
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'test@example.com');
  git('config', 'user.name', 'test');
  git('add', '-A');
  git('commit', '-q', '-m', 'example fleet');

  const storeUrl = await storeUrlFor(kind, label);
  const store = openStore(storeUrl, { s3: { stateDir: join(repo, '.model-gitops') } });
  const state = tempDir('mg-pushstate-');
  for (const d of demoWeights()) await pushFolder({ dir: d, store, stateDir: state });

  const keysDir = join(repo, '.model-gitops', 'keys');
  const root = generateSigningKey();
  const keys = { targets: generateSigningKey(), snapshot: generateSigningKey(), timestamp: generateSigningKey() };
  writeKeyFile(keyFile(keysDir, 'root-1'), root);
  writeKeyFile(keyFile(keysDir, 'targets'), keys.targets);
  writeKeyFile(keyFile(keysDir, 'snapshot'), keys.snapshot);
  writeKeyFile(keyFile(keysDir, 'timestamp'), keys.timestamp);
  const { rootBytes } = await initRepository({
    io: new BlobTrustStore(store),
    rootKeys: [root],
    rootThreshold: 1,
    targetsKeys: [keys.targets],
    snapshotKey: keys.snapshot,
    timestampKey: keys.timestamp,
  });
  const rootFile = join(repo, 'trust', 'root.json');
  mkdirSync(join(repo, 'trust'), { recursive: true });
  writeFileSync(rootFile, rootBytes);

  const fx: Fixture = {
    kind,
    repo,
    storeUrl,
    store,
    keysDir,
    keys,
    rootBytes,
    rootFile,
    git,
    head: () => git('rev-parse', 'HEAD'),
    commitEdit: (path, from, to, message = `edit ${path}`) => {
      const p = join(repo, path);
      const text = readFileSync(p, 'utf8');
      if (!text.includes(from)) throw new Error(`${path} has no "${from}"`);
      writeFileSync(p, text.replace(from, to));
      git('commit', '-q', '-am', message);
      return git('rev-parse', 'HEAD');
    },
    trustSource: () => (kind === 'folder' ? storeUrl : openTrustStore(storeUrl)),
  };
  return fx;
}

/** Verify as a device would, from the pinned root, with a fresh state folder unless one is given. */
export async function verified(fx: Fixture, target?: string, stateDir = tempDir('mg-devstate-')) {
  const v = await fetchVerifiedManifest({
    trustedRoot: fx.rootBytes,
    stateDir,
    source: fx.trustSource(),
    ...(target ? { target } : {}),
  });
  return { ...v, manifest: v.manifest as Manifest };
}

/** Every file a manifest references is in the store with its size. */
export async function missingBlobs(store: BlobStore, m: Manifest): Promise<string[]> {
  const out: string[] = [];
  for (const mv of Object.values(m.models)) {
    for (const v of Object.values(mv.versions)) {
      for (const f of v.files) {
        const h = await store.head(`blobs/sha256/${f.sha256}`);
        if (!h || h.size !== f.size) out.push(f.sha256);
        if (f.index && !(await store.exists(`indexes/sha256/${f.sha256}.json`))) out.push(`index ${f.sha256}`);
      }
    }
  }
  return out;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The real CLI in a child process. */
export function cli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

/** A publisher process (test/publish/publish-child.ts): prints the PublishResult as JSON. */
export function publisher(
  fx: Fixture,
  commit: string,
  env: Record<string, string> = {},
  recover = false,
): Promise<Run> {
  return new Promise((resolvePromise) => {
    const args = [
      join(ROOT, 'test/publish/publish-child.ts'),
      fx.storeUrl,
      fx.repo,
      fx.keysDir,
      commit,
      ...(recover ? ['--recover'] : []),
    ];
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('close', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/** Every private key file's content and its base64 body: none may appear in any output. */
export function secretsOf(keysDir: string, names = ['root-1', 'targets', 'snapshot', 'timestamp']): string[] {
  return names.flatMap((n) => {
    const line = readFileSync(join(keysDir, `${n}.key`), 'utf8').trim();
    return [line, line.split(':').pop()!];
  });
}
