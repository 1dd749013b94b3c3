// Helpers for the trust tests: a real repository in a temp folder with real ed25519 keys, a real
// HTTP server on 127.0.0.1, and ways to craft the metadata an attacker (or a compromised key) would.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { expect } from 'vitest';
import {
  fetchVerifiedManifest,
  TrustVerificationError,
  type TrustFailure,
  type TrustSource,
  type VerifiedManifest,
} from '../../src/trust/client.ts';
import { generateSigningKey, type SigningKey } from '../../src/trust/keys.ts';
import { FolderTrustStore } from '../../src/trust/repository-io.ts';
import { initRepository, publishManifest, serializeMetadata, type PublishKeys } from '../../src/trust/repository.ts';
import { ROOT, tempDir } from '../helpers.ts';

/** A Node that runs TypeScript (the `node` devDependency), whatever Node runs vitest. */
export const NODE_TS = existsSync(join(ROOT, 'node_modules/.bin/node'))
  ? join(ROOT, 'node_modules/.bin/node')
  : process.execPath;

export const DAY_MS = 86_400_000;

export interface TestRepo {
  dir: string;
  io: FolderTrustStore;
  rootKeys: SigningKey[];
  targets: SigningKey;
  snapshot: SigningKey;
  timestamp: SigningKey;
  keys: PublishKeys;
  rootBytes: Buffer;
}

export async function makeRepo(options: { rootCount?: number; rootThreshold?: number } = {}): Promise<TestRepo> {
  const dir = tempDir('mg-trust-store-');
  const io = new FolderTrustStore(dir);
  const rootKeys = Array.from({ length: options.rootCount ?? 1 }, () => generateSigningKey());
  const targets = generateSigningKey();
  const snapshot = generateSigningKey();
  const timestamp = generateSigningKey();
  const { rootBytes } = await initRepository({
    io,
    rootKeys,
    rootThreshold: options.rootThreshold ?? 1,
    targetsKeys: [targets],
    snapshotKey: snapshot,
    timestampKey: timestamp,
  });
  return { dir, io, rootKeys, targets, snapshot, timestamp, keys: { targets, snapshot, timestamp }, rootBytes };
}

export function manifestOf(n: number): Buffer {
  return Buffer.from(`${JSON.stringify({ schema: 1, environments: { prod: { model: 'm', version: `1.0.${n}` } } })}\n`);
}

export async function publish(repo: TestRepo, n: number, now?: Date) {
  return publishManifest({ io: repo.io, manifestBytes: manifestOf(n), keys: repo.keys, ...(now ? { now } : {}) });
}

export function verify(repo: TestRepo, stateDir: string, source: TrustSource = repo.dir): Promise<VerifiedManifest> {
  return fetchVerifiedManifest({ trustedRoot: repo.rootBytes, stateDir, source });
}

/** Expect `p` to be refused with `reason`, and a message matching `message`. Returns the error. */
export async function expectRefused(
  p: Promise<unknown>,
  reason: TrustFailure,
  message: RegExp,
): Promise<TrustVerificationError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'verification should have been refused').toBeInstanceOf(TrustVerificationError);
  const err = e as TrustVerificationError;
  expect({ reason: err.code, message: err.message }).toMatchObject({ reason, message: expect.stringMatching(message) });
  return err;
}

export function file(repo: TestRepo, key: string): Buffer {
  return readFileSync(join(repo.dir, key));
}

export function overwrite(repo: TestRepo, key: string, bytes: Buffer | string): void {
  writeFileSync(join(repo.dir, key), bytes);
}

type Kind = MetadataKind.Root | MetadataKind.Timestamp | MetadataKind.Snapshot | MetadataKind.Targets;
export function readMeta(repo: TestRepo, kind: MetadataKind.Root, key: string): Metadata<Root>;
export function readMeta(repo: TestRepo, kind: MetadataKind.Timestamp, key: string): Metadata<Timestamp>;
export function readMeta(repo: TestRepo, kind: MetadataKind.Snapshot, key: string): Metadata<Snapshot>;
export function readMeta(repo: TestRepo, kind: MetadataKind.Targets, key: string): Metadata<Targets>;
export function readMeta(repo: TestRepo, kind: Kind, key: string): Metadata<Root | Timestamp | Snapshot | Targets> {
  return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(file(repo, key).toString('utf8')));
}

/** Metadata from its JSON form with `edit` applied to `signed`, re-signed by `keys` (none: keep the old signatures). */
export function craft(
  kind: Kind,
  source: Metadata<Root | Timestamp | Snapshot | Targets>,
  edit: (signed: Record<string, unknown>) => void,
  keys?: readonly SigningKey[],
): Buffer {
  const json = JSON.parse(JSON.stringify(source.toJSON())) as { signed: Record<string, unknown> };
  edit(json.signed);
  const md = Metadata.fromJSON(kind as MetadataKind.Root, json as never);
  if (keys) {
    md.signatures = {};
    for (const k of keys) md.sign(k.signer);
  }
  return serializeMetadata(md);
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface FolderServer {
  url: string;
  /** Requests served, by path. */
  hits: string[];
  /** Per-path overrides: answer the request yourself. */
  overrides: Map<string, (req: IncomingMessage, res: ServerResponse) => void>;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 serving `dir` (GET only, 404 for anything missing). */
export async function serveFolder(dir: string): Promise<FolderServer> {
  const root = resolve(dir);
  const hits: string[] = [];
  const overrides = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    hits.push(path);
    const o = overrides.get(path);
    if (o) return o(req, res);
    const p = resolve(root, `.${path}`);
    if (req.method !== 'GET' || !p.startsWith(root + sep) || !existsSync(p)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(p);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    overrides,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
