// Test helpers for edge sync: a store folder with real safetensors files and index objects, a real
// HTTP server on 127.0.0.1 that serves it (Range, If-Range, If-None-Match) and misbehaves on demand,
// and a check that `current/` holds exactly a manifest version's bytes.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import type { Manifest, ManifestFile } from '../../src/manifest/manifest.ts';
import { STORE_LAYOUT, blobKey, indexKey } from '../../src/store/keys.ts';
import { encodeSafetensors, indexSafetensorsBytes } from '../../src/formats/safetensors.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { sha256Hex as sha256 } from '../../src/lib/hash.ts';

export { sha256 };

/** Deterministic pseudo-random bytes (xorshift), fast enough for MBs. */
export function noise(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** A safetensors file of `seeds.length` tensors of `floats` f32 each; tensor i's bytes come from seeds[i]. */
export function model(seeds: number[], floats = 64 * 1024): Buffer {
  return encodeSafetensors(
    seeds.map((s, i) => ({ name: `layer.${i}.weight`, dtype: 'F32', shape: [floats], data: noise(s, floats * 4) })),
    { format: 'pt' },
  );
}

export class TestStore {
  readonly dir = tempDir('mg-store-');
  readonly versions = new Map<string, ManifestFile[]>();

  /** Adds files as blobs (and the index objects the store writes at push time, for .safetensors); remembers them as model@version. */
  add(modelName: string, version: string, files: Record<string, Buffer>): ManifestFile[] {
    const out: ManifestFile[] = [];
    for (const [path, bytes] of Object.entries(files)) {
      const sha = sha256(bytes);
      this.put(blobKey(sha), bytes);
      const f: ManifestFile = { path, sha256: sha, size: bytes.length };
      if (path.endsWith('.safetensors')) {
        this.put(indexKey(sha), Buffer.from(JSON.stringify(indexSafetensorsBytes(path, bytes))));
        f.index = true;
      }
      out.push(f);
    }
    this.versions.set(`${modelName}@${version}`, out);
    return out;
  }

  put(key: string, bytes: Buffer): void {
    mkdirSync(join(this.dir, key, '..'), { recursive: true });
    writeFileSync(join(this.dir, key), bytes);
  }

  /** A manifest whose `env` runs the given deployments; writes it to manifest.json unless told not to. */
  manifest(
    sequence: number,
    deployments: Record<string, string | { version: string; canary?: { version: string; weight: number } }>,
    options: { env?: string; expiresAt?: Date; write?: boolean } = {},
  ): { manifest: Manifest; bytes: Buffer } {
    const env = options.env ?? 'production';
    const models: Manifest['models'] = {};
    const envModels: Manifest['environments'][string]['models'] = {};
    for (const [m, d] of Object.entries(deployments)) {
      const dep = typeof d === 'string' ? { version: d } : d;
      envModels[m] = dep;
      const vs = [dep.version, ...(dep.canary ? [dep.canary.version] : [])];
      models[m] = {
        versions: Object.fromEntries(
          vs.map((v) => [
            v,
            {
              files: this.versions.get(`${m}@${v}`)!,
              interface: { inputs: [], outputs: [] },
              architecture: { family: 'mlp', parameters: 1, format: 'safetensors', dtype: 'f32' },
              lineageDigest: `sha256:${'0'.repeat(64)}`,
            } as never,
          ]),
        ),
      };
    }
    const manifest: Manifest = {
      schemaVersion: 1,
      sequence,
      publishedAt: new Date().toISOString(),
      expiresAt: (options.expiresAt ?? new Date(Date.now() + 86_400_000)).toISOString(),
      source: { repository: 'acme/models', commit: 'a'.repeat(40) },
      layout: STORE_LAYOUT,
      environments: { [env]: { models: envModels } },
      models,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    if (options.write !== false) this.put('manifest.json', bytes);
    return { manifest, bytes };
  }
}

export interface Served {
  method: string;
  key: string;
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
  status: number;
  bodyBytes: number;
}

export interface Hook {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  key: string;
  /** Answer normally, optionally overriding status/headers/body, or cutting the body after n bytes. */
  serve(over?: {
    status?: number;
    headers?: Record<string, string>;
    body?: Buffer;
    cutAfter?: number;
    stallAfter?: number;
  }): void;
  file?: Buffer;
}

/** node:http server over a store folder. `hook` returns true when it answered the request itself. */
export class StoreServer {
  readonly log: Served[] = [];
  hook?: (h: Hook) => boolean;
  /** Overrides the ETag of a key (to simulate a replaced object). */
  etags = new Map<string, string>();
  private server!: http.Server;
  url = '';
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  bytesServed(filter: (s: Served) => boolean = () => true): number {
    return this.log.filter(filter).reduce((n, s) => n + s.bodyBytes, 0);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const key = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1));
    let file: Buffer | undefined;
    try {
      file = readFileSync(join(this.root, key));
    } catch {
      file = undefined;
    }
    const entry: Served = {
      method: req.method!,
      key,
      status: 0,
      bodyBytes: 0,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers['if-range'] ? { ifRange: String(req.headers['if-range']) } : {}),
      ...(req.headers['if-none-match'] ? { ifNoneMatch: String(req.headers['if-none-match']) } : {}),
    };
    this.log.push(entry);
    const etag = this.etags.get(key) ?? (file ? `"${sha256(file).slice(0, 16)}"` : '');
    const send = (
      status: number,
      headers: Record<string, string>,
      body: Buffer | undefined,
      cutAfter?: number,
      stallAfter?: number,
    ) => {
      entry.status = status;
      res.writeHead(status, headers);
      if (!body || req.method === 'HEAD') {
        res.end();
        return;
      }
      if (stallAfter !== undefined) {
        const part = body.subarray(0, stallAfter);
        entry.bodyBytes += part.length;
        res.write(part); // then nothing: the client's idle timeout must fire
        return;
      }
      if (cutAfter !== undefined) {
        const part = body.subarray(0, cutAfter);
        entry.bodyBytes += part.length;
        res.write(part, () => setTimeout(() => res.destroy(), 50)); // the client reads what came, then the connection drops
        return;
      }
      entry.bodyBytes += body.length;
      res.end(body);
    };
    const serve: Hook['serve'] = (over = {}) => {
      if (!file) {
        send(404, {}, Buffer.from('not found'));
        return;
      }
      if (req.headers['if-none-match'] && req.headers['if-none-match'] === etag && over.status === undefined) {
        send(304, { etag }, undefined);
        return;
      }
      let status = 200;
      let body = over.body ?? file;
      const headers: Record<string, string> = { etag, 'accept-ranges': 'bytes' };
      const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const ifRange = req.headers['if-range'];
      if (m && (!ifRange || ifRange === etag)) {
        const start = Number(m[1]);
        const end = m[2] ? Math.min(Number(m[2]) + 1, file.length) : file.length;
        if (start >= file.length) {
          send(416, { 'content-range': `bytes */${file.length}` }, undefined);
          return;
        }
        status = 206;
        body = body.subarray(start, end);
        headers['content-range'] = `bytes ${start}-${end - 1}/${file.length}`;
      }
      headers['content-length'] = String(body.length);
      send(over.status ?? status, { ...headers, ...over.headers }, body, over.cutAfter, over.stallAfter);
    };
    if (this.hook?.({ req, res, key, serve, ...(file ? { file } : {}) })) return;
    serve();
  }
}

/** Checks that models/<m>/current holds exactly the files of `files`, byte for byte; returns the version. */
export function verifyCurrent(dir: string, modelName: string, versions: Map<string, ManifestFile[]>): string {
  const link = readlinkSync(join(dir, 'models', modelName, 'current'));
  const version = /^versions\/(.+)$/.exec(link)?.[1];
  if (!version) throw new Error(`current points at ${link}`);
  const files = versions.get(`${modelName}@${version}`);
  if (!files) throw new Error(`current points at unknown version ${version}`);
  const root = join(dir, 'models', modelName, 'current');
  const present = walk(root)
    .map((p) => relative(root, p))
    .sort();
  if (JSON.stringify(present) !== JSON.stringify(files.map((f) => f.path).sort()))
    throw new Error(`current/ holds ${present.join(', ')}`);
  for (const f of files) {
    const b = readFileSync(join(root, f.path));
    if (sha256(b) !== f.sha256) throw new Error(`${modelName}@${version}/${f.path} does not match its sha256`);
  }
  return version;
}

function walk(d: string): string[] {
  return readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
}

export const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process without blocking this process (the test server lives here). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'model-gitops.js'), ...args], {
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
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}
