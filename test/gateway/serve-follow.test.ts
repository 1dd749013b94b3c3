// `model-gitops serve --store --trust`: the gateway follows the signed manifest of a real (folder) store,
// fetches versions from it through the sync engine (hash-checked), and refuses to start on a manifest it cannot verify.
import { spawn } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeDemoWeights } from '../../scripts/demo-weights.ts';
import { main as cli } from '../../src/cli/main.ts';
import { git } from '../../src/lib/git.ts';
import { FLEET, NODE, ROOT, exampleRepo, tempDir } from '../helpers.ts';
import { sha256, StoreServer } from '../sync/helpers.ts';

async function publishedStore(): Promise<{ repo: string; store: string; trust: string }> {
  const repo = exampleRepo();
  const store = join(tempDir('mg-serve-store-'), 'store');
  const weights = tempDir('mg-serve-weights-');
  writeDemoWeights(weights);
  const quiet = async (argv: string[]) => {
    const log = console.log;
    const err = console.error;
    console.log = () => {};
    console.error = () => {};
    try {
      return await cli(argv);
    } finally {
      console.log = log;
      console.error = err;
    }
  };
  for (const [id] of [
    ['intent-classifier/2.0.0'],
    ['intent-classifier/2.1.0'],
    ['intent-classifier/1.1.0'],
    ['pii-scrubber/1.4.1'],
    ['pii-scrubber/1.4.2'],
    ['structured-extractor/1.0.0'],
    ['structured-extractor/1.1.0'],
  ]) {
    const [model, version] = id!.split('/') as [string, string];
    expect(
      await quiet([
        'push',
        join(weights, model, version),
        '--model',
        model,
        '--version',
        version,
        '--repo',
        repo,
        '--store',
        store,
        '--json',
      ]),
    ).toBe(0);
  }
  git(repo, ['init', '-q', '-b', 'main']);
  git(repo, ['add', '-A']);
  git(repo, ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'base']);
  const keys = join(tempDir('mg-serve-keys-'), 'keys');
  expect(await quiet(['keys', 'init', '--store', store, '--keys-dir', keys, '--repo', repo])).toBe(0);
  expect(
    await quiet(['publish', '--store', store, '--keys-dir', keys, '--repo', repo, '--source-repo', 'acme/models']),
  ).toBe(0);
  return { repo, store, trust: join(repo, 'trust', 'root.json') };
}

function serve(args: string[]): Promise<{ url?: string; code?: number | null; out: string; kill: () => void }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [join(ROOT, 'bin/model-gitops.js'), 'serve', ...args, '--port', '0', '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    const done = (r: { url?: string; code?: number | null }) =>
      resolve({ ...r, out, kill: () => child.kill('SIGTERM') });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url": "([^"]+)"/.exec(out);
      if (m) done({ url: m[1]! });
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => done({ code }));
  });
}

describe('serve --store --trust', () => {
  it('serves the verified production slice with versions fetched from the store', async () => {
    const { store, trust } = await publishedStore();
    const cache = tempDir('mg-serve-cache-');
    const s = await serve([
      '--environment',
      'production',
      '--store',
      store,
      '--trust',
      trust,
      '--cache-dir',
      cache,
      '--state',
      join(cache, 'state.json'),
    ]);
    try {
      expect(s.url, s.out).toBeDefined();
      const r = await fetch(`${s.url}/v1/models/intent-classifier/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-model-version': '2.0.0' },
        body: JSON.stringify({ inputs: { text: 'hello there' } }),
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-served-version')).toBe('2.0.0');
      expect(readdirSync(join(cache, 'sync', 'models', 'intent-classifier', 'versions')).sort()).toEqual([
        '1.1.0',
        '2.0.0',
        '2.1.0',
      ]);
      expect(s.out).toMatch(/fetched intent-classifier model\.safetensors \((download|delta): /);
    } finally {
      s.kill();
    }
  });

  it('follows a store served over HTTP, fetching blobs with the sync engine', async () => {
    const { store, trust } = await publishedStore();
    const server = await new StoreServer(store).start();
    const cache = tempDir('mg-serve-cache-');
    const s = await serve([
      '--environment',
      'production',
      '--store',
      server.url,
      '--trust',
      trust,
      '--cache-dir',
      cache,
      '--state',
      join(cache, 'state.json'),
    ]);
    try {
      expect(s.url, s.out).toBeDefined();
      const r = await fetch(`${s.url}/v1/models/pii-scrubber/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: { text: 'mail me at a@b.example' } }),
      });
      expect(r.status).toBe(200);
      // TUF metadata and blobs both came over HTTP, and every blob the gateway holds matches its name.
      expect(server.log.some((e) => e.key.startsWith('metadata/') || e.key.endsWith('timestamp.json'))).toBe(true);
      const blobs = readdirSync(join(cache, 'sync', 'blobs', 'sha256'));
      expect(blobs.length).toBeGreaterThan(0);
      for (const b of blobs) expect(sha256(readFileSync(join(cache, 'sync', 'blobs', 'sha256', b)))).toBe(b);
      expect(
        server.log.filter((e) => e.key.startsWith('blobs/')).every((e) => e.status === 200 || e.status === 206),
      ).toBe(true);
    } finally {
      s.kill();
      await server.close();
    }
  });

  it('refuses to start on a tampered manifest slice (exit 1), and on a blob whose bytes were altered', async () => {
    const { store, trust } = await publishedStore();
    const evil = join(tempDir('mg-serve-evil-'), 'store');
    cpSync(store, evil, { recursive: true });
    const slices = join(evil, 'targets', 'environments');
    const f = readdirSync(slices).find((x) => x.endsWith('.production.json'))!;
    const b = readFileSync(join(slices, f));
    b[b.indexOf('2.0.0')] = '3'.charCodeAt(0);
    writeFileSync(join(slices, f), b);
    const s = await serve([
      '--environment',
      'production',
      '--store',
      evil,
      '--trust',
      trust,
      '--cache-dir',
      tempDir('mg-serve-cache-'),
    ]);
    expect(s.code).toBe(1);
    expect(s.out).toContain('tampered');

    const altered = join(tempDir('mg-serve-alt-'), 'store');
    cpSync(store, altered, { recursive: true });
    const blobs = join(altered, 'blobs', 'sha256');
    const card = readFileSync(join(FLEET, 'models/pii-scrubber/versions/1.4.1.yaml'), 'utf8');
    const sha = /path: model\.safetensors, sha256: ([0-9a-f]{64})/.exec(card)![1]!;
    const blob = readFileSync(join(blobs, sha));
    blob[blob.length - 1] = blob[blob.length - 1]! ^ 0xff;
    writeFileSync(join(blobs, sha), blob);
    const s2 = await serve([
      '--environment',
      'production',
      '--store',
      altered,
      '--trust',
      trust,
      '--cache-dir',
      tempDir('mg-serve-cache-'),
    ]);
    s2.kill();
    expect(s2.url).toBeUndefined();
    expect(s2.out).toMatch(/pii-scrubber: model\.safetensors from .* does not match the manifest's sha256/);
  });

  it('needs --store and --trust together, and refuses credentials in the store URL', async () => {
    const s = await serve(['--environment', 'production', '--store', '/nonexistent']);
    expect(s.code).toBe(2);
    expect(s.out).toContain('--store and --trust go together');
    const creds = await serve([
      '--environment',
      'production',
      '--store',
      's3://AKIAEXAMPLE:hunter2@bucket/prod',
      '--trust',
      '/nonexistent/root.json',
    ]);
    expect(creds.code).toBe(2);
    expect(creds.out).toContain('carries credentials');
    expect(creds.out).not.toContain('hunter2'); // never echoed back
  });
});
