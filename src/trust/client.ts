// Device side: fetch manifest.json and verify it through the TUF client workflow (tuf-js Updater),
// starting from a pinned root.
//
// What this adds around tuf-js:
// - Fetchers for a TrustStoreIO (folder, or any store adapter) and for HTTP(S) through global fetch,
//   both capping every download at the length TUF allows (endless data) and remembering what they
//   served, so failures can be explained (tuf-fetchers.ts).
// - Atomic persistence. tuf-js persists trusted metadata with a plain fs.writeFileSync into its
//   metadataDir, so a crash mid-write can leave a half-written file. The Updater therefore runs in a
//   scratch copy of the state; afterwards every file it changed is copied back with temp file +
//   fsync + rename (root first). A corrupt local file never crashes the client: a bad root.json is
//   replaced by the pinned root, and tuf-js ignores and re-downloads bad timestamp/snapshot/targets.
// - Errors: tuf-js errors (several of them flattened into RuntimeError strings) are mapped to a
//   TrustVerificationError with a `reason` and a message that names the file and the attack
//   (verification-errors.ts).
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, MetadataKind, type Root } from '@tufjs/models';
import { Updater } from 'tuf-js';
import { UserError } from '../lib/errors.ts';
import { writeFileAtomic } from './repository-io.ts';
import { MANIFEST_TARGET, targetObjectKey } from './repository.ts';
import { sha256Hex } from '../lib/hash.ts';
import { type CappedFetcher, type TrustSource, fetcherFor } from './tuf-fetchers.ts';
import { TrustVerificationError, explain } from './verification-errors.ts';

export type { TrustSource } from './tuf-fetchers.ts';
export { type TrustFailure, TrustVerificationError } from './verification-errors.ts';

export interface FetchVerifiedManifestOptions {
  /** Bytes of the root this device pins (version 1, or a later one shipped with the device). */
  trustedRoot: Buffer | string;
  /** Folder holding this device's trusted metadata between runs (created if missing). */
  stateDir: string;
  source: TrustSource;
  /** Which signed target to fetch: `manifest.json` (default) or an environment slice such as `environments/production.json`. */
  target?: string;
  /** Refuse manifests larger than this even if targets vouches for them. Default 64 MiB. */
  maxManifestBytes?: number;
  /** Per-request timeout for HTTP sources. Default 30 s. */
  timeoutMs?: number;
  /** Caps for metadata downloads whose length TUF does not record. Defaults: tuf-js's (timestamp 16 KiB, root 512 KB). */
  timestampMaxLength?: number;
  rootMaxLength?: number;
}

export interface VerifiedManifest {
  manifestBytes: Buffer;
  /** The parsed manifest JSON. */
  manifest: unknown;
  sha256: string;
  length: number;
  rootVersion: number;
  targetsVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  /** When this verification stops holding: the earliest expiry of timestamp, snapshot and targets. */
  expires: string;
  /** True when the local trusted state was unusable and was rebuilt from the pinned root. */
  rebootstrapped: boolean;
}

// ---------------------------------------------------------------------------------------------
// local state

const STATE_FILES = ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json'] as const;

function parseRoot(bytes: Buffer): Metadata<Root> {
  const md = Metadata.fromJSON(MetadataKind.Root, JSON.parse(bytes.toString('utf8')));
  md.verifyDelegate('root', md);
  return md;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// the client

/**
 * Fetch `manifest.json` from `source`, verified through the TUF client workflow from the pinned
 * root and the device's trusted state in `stateDir`. Throws TrustVerificationError when any check
 * fails; the state keeps whatever was verified before the failure (e.g. a newer root).
 */
export async function fetchVerifiedManifest(options: FetchVerifiedManifestOptions): Promise<VerifiedManifest> {
  const { stateDir } = options;
  const pinnedBytes = Buffer.isBuffer(options.trustedRoot) ? options.trustedRoot : Buffer.from(options.trustedRoot);
  let pinned: Metadata<Root>;
  try {
    pinned = parseRoot(pinnedBytes);
  } catch (e) {
    throw new TrustVerificationError(
      'invalid-root',
      `the pinned trusted root is not valid root metadata: ${(e as Error).message}`,
      e,
    );
  }

  const { fetcher, metadataBaseUrl, urlOf } = fetcherFor(options.source, options.timeoutMs ?? 30_000);
  await mkdir(stateDir, { recursive: true });

  // Choose the starting root: the local one if it is intact and not older than the pinned one.
  let rebootstrapped = false;
  let startRoot = pinnedBytes;
  const localRoot = await readOptional(join(stateDir, 'root.json'));
  if (localRoot !== undefined) {
    try {
      const md = parseRoot(localRoot);
      if (md.signed.version > pinned.signed.version || localRoot.equals(pinnedBytes)) startRoot = localRoot;
    } catch {
      rebootstrapped = true; // corrupt or half-written: start again from the pinned root
    }
  }

  const work = await mkdtemp(join(tmpdir(), 'mg-tuf-state-'));
  const before = new Map<string, Buffer | undefined>();
  try {
    for (const name of STATE_FILES) {
      const b = name === 'root.json' ? localRoot : await readOptional(join(stateDir, name));
      before.set(name, b);
      const copy = name === 'root.json' ? startRoot : b;
      if (copy !== undefined) await writeFile(join(work, name), copy);
    }

    let result: VerifiedManifest | undefined;
    let failure: unknown;
    try {
      result = await runUpdater(work, metadataBaseUrl, fetcher, urlOf, options, rebootstrapped);
    } catch (e) {
      let trusted: Metadata<Root> | undefined;
      try {
        trusted = parseRoot(await readFile(join(work, 'root.json')));
      } catch {
        trusted = pinned;
      }
      failure = explain(e, fetcher, trusted);
    }

    // Persist what tuf-js verified (even on failure: a newer root or timestamp is still progress), root first.
    for (const name of STATE_FILES) {
      const now = await readOptional(join(work, name));
      if (now !== undefined && !now.equals(before.get(name) ?? Buffer.alloc(0))) {
        try {
          await writeFileAtomic(join(stateDir, name), now);
        } catch (e) {
          throw new UserError(`cannot save trusted metadata in ${stateDir}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    if (failure !== undefined) throw failure;
    return result!;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function runUpdater(
  work: string,
  metadataBaseUrl: string,
  fetcher: CappedFetcher,
  urlOf: (key: string) => string,
  options: FetchVerifiedManifestOptions,
  rebootstrapped: boolean,
): Promise<VerifiedManifest> {
  const config: Record<string, number> = {};
  if (options.timestampMaxLength !== undefined) config['timestampMaxLength'] = options.timestampMaxLength;
  if (options.rootMaxLength !== undefined) config['rootMaxLength'] = options.rootMaxLength;
  const updater = new Updater({ metadataDir: work, metadataBaseUrl, fetcher, config });
  await updater.refresh();
  const target = options.target ?? MANIFEST_TARGET;
  const info = await updater.getTargetInfo(target);

  // After a successful refresh the work folder holds exactly the trusted set.
  const read = async <K extends MetadataKind.Timestamp | MetadataKind.Snapshot | MetadataKind.Targets>(kind: K) =>
    Metadata.fromJSON(
      kind as MetadataKind.Timestamp,
      JSON.parse((await readFile(join(work, `${kind}.json`))).toString('utf8')),
    );
  const root = parseRoot(await readFile(join(work, 'root.json')));
  const timestamp = await read(MetadataKind.Timestamp);
  const snapshot = await read(MetadataKind.Snapshot);
  const targets = await read(MetadataKind.Targets);

  if (!info) {
    throw new TrustVerificationError(
      'not-found',
      `targets version ${targets.signed.version} from ${fetcher.label} does not list ${target}`,
    );
  }
  const digest = info.hashes['sha256'];
  if (digest === undefined || !/^[0-9a-f]{64}$/.test(digest)) {
    throw new TrustVerificationError(
      'invalid',
      `targets version ${targets.signed.version} gives no sha256 for ${target}`,
    );
  }
  const maxManifest = options.maxManifestBytes ?? 64 * 1024 * 1024;
  if (info.length > maxManifest) {
    throw new TrustVerificationError(
      'endless-data',
      `targets version ${targets.signed.version} vouches for a ${info.length}-byte manifest, more than the ${maxManifest} bytes this client accepts`,
    );
  }

  const mkey = targetObjectKey(target, digest);
  const manifestBytes = await fetcher.downloadBytes(urlOf(mkey), info.length); // cap at the signed length
  const got = sha256Hex(manifestBytes);
  if (manifestBytes.length !== info.length || got !== digest) {
    throw new TrustVerificationError(
      'tampered',
      `refused ${mkey} from ${fetcher.label}: it is ${manifestBytes.length} bytes with sha256 ${got.slice(0, 12)}…, ` +
        `but targets version ${targets.signed.version} vouches for ${info.length} bytes with sha256 ${digest.slice(0, 12)}… (tampered or corrupted)`,
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch (e) {
    throw new TrustVerificationError('invalid', `${mkey} is signed but is not JSON: ${(e as Error).message}`);
  }
  const expires = [timestamp.signed.expires, snapshot.signed.expires, targets.signed.expires].sort(
    (a, b) => new Date(a).getTime() - new Date(b).getTime(),
  )[0]!;
  return {
    manifestBytes,
    manifest,
    sha256: digest,
    length: info.length,
    rootVersion: root.signed.version,
    targetsVersion: targets.signed.version,
    snapshotVersion: snapshot.signed.version,
    timestampVersion: timestamp.signed.version,
    expires,
    rebootstrapped,
  };
}
