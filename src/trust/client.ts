// Device side: fetch manifest.json and verify it through the TUF client workflow (tuf-js Updater),
// starting from a pinned root.
//
// What this adds around tuf-js:
// - Fetchers for a TrustStoreIO (folder, or any store adapter) and for HTTP(S) through global fetch,
//   both capping every download at the length TUF allows (endless data) and remembering what they
//   served, so failures can be explained.
// - Atomic persistence. tuf-js persists trusted metadata with a plain fs.writeFileSync into its
//   metadataDir, so a crash mid-write can leave a half-written file. The Updater therefore runs in a
//   scratch copy of the state; afterwards every file it changed is copied back with temp file +
//   fsync + rename (root first). A corrupt local file never crashes the client: a bad root.json is
//   replaced by the pinned root, and tuf-js ignores and re-downloads bad timestamp/snapshot/targets.
// - Errors: tuf-js errors (several of them flattened into RuntimeError strings) are mapped to a
//   TrustVerificationError with a `reason` and a message that names the file and the attack.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, MetadataKind, type Root } from '@tufjs/models';
import { Updater, type Fetcher } from 'tuf-js';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import { UserError } from '../lib/errors.ts';
import { FolderTrustStore, writeFileAtomic, type TrustStoreIO } from './repository-io.ts';
import { MANIFEST_TARGET, targetObjectKey } from './repository.ts';
import { sha256Hex } from '../lib/hash.ts';

export type TrustFailure =
  | 'tampered' // content or signature does not match what a trusted key signed / a trusted hash recorded
  | 'unsigned' // not signed by enough keys the trusted root lists for the role (unknown or missing signatures)
  | 'rollback' // older version than the device already trusts
  | 'freeze' // expired metadata
  | 'mix-and-match' // metadata of different publications combined
  | 'endless-data' // larger than allowed
  | 'not-found' // nothing published, wrong URL, or a file missing from the repository
  | 'unavailable' // the source could not be reached or answered with an error
  | 'invalid-root' // the pinned root itself is not valid
  | 'invalid'; // not parseable as TUF metadata / anything else

/** Verification refused the repository's data. `reason` says which protection fired. */
export class TrustVerificationError extends UserError {
  readonly reason: TrustFailure;
  constructor(reason: TrustFailure, message: string, cause?: unknown) {
    super(message, { exitCode: 3, cause });
    this.name = 'TrustVerificationError';
    this.reason = reason;
  }
}

/** An HTTP(S) base URL of the store root, a local folder path, or any TrustStoreIO. */
export type TrustSource = string | URL | TrustStoreIO;

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
// fetchers

interface LastFetch {
  url: string;
  file: string;
  maxLength: number;
  bytes?: Buffer;
  error?: unknown;
}

abstract class CappedFetcher implements Fetcher {
  last: LastFetch | undefined;
  abstract readonly label: string;
  /** Read `url`, throwing DownloadHTTPError(404) when missing and DownloadLengthMismatchError past maxLength. */
  protected abstract read(url: string, maxLength: number): Promise<Buffer>;
  /** The repository-relative name of `url`, for messages. */
  abstract fileOf(url: string): string;

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const last: LastFetch = { url, file: this.fileOf(url), maxLength };
    this.last = last;
    try {
      last.bytes = await this.read(url, maxLength);
      return last.bytes;
    } catch (e) {
      last.error = e;
      throw e;
    }
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const dir = await mkdtemp(join(tmpdir(), 'mg-tuf-dl-'));
    try {
      const file = join(dir, 'download');
      await writeFile(file, bytes);
      return await handler(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function tooLarge(file: string, maxLength: number): DownloadLengthMismatchError {
  return new DownloadLengthMismatchError(`Max length reached: ${file} is larger than ${maxLength} bytes`);
}

const STORE_URL_BASE = 'tuf-store://store/';

class StoreFetcher extends CappedFetcher {
  readonly io: TrustStoreIO;
  readonly label: string;
  constructor(io: TrustStoreIO, label: string) {
    super();
    this.io = io;
    this.label = label;
  }
  fileOf(url: string): string {
    return decodeURIComponent(new URL(url).pathname.replace(/^\/+/, ''));
  }
  protected async read(url: string, maxLength: number): Promise<Buffer> {
    const file = this.fileOf(url);
    const bytes = await this.io.get(file);
    if (bytes === undefined) throw new DownloadHTTPError(`not found: ${file}`, 404);
    if (bytes.length > maxLength) throw tooLarge(file, maxLength);
    return bytes;
  }
}

class HttpFetcher extends CappedFetcher {
  readonly base: string;
  readonly timeoutMs: number;
  readonly label: string;
  constructor(base: string, timeoutMs: number) {
    super();
    this.base = base;
    this.label = base;
    this.timeoutMs = timeoutMs;
  }
  fileOf(url: string): string {
    return url.startsWith(this.base) ? decodeURIComponent(url.slice(this.base.length)) : url;
  }
  protected async read(url: string, maxLength: number): Promise<Buffer> {
    const file = this.fileOf(url);
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { 'user-agent': 'model-gitops' } });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new DownloadHTTPError(`HTTP ${res.status} for ${file}`, res.status);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxLength) {
      await res.body.cancel().catch(() => undefined);
      throw tooLarge(file, maxLength);
    }
    const reader = res.body.getReader();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxLength) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(file, maxLength);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
    return Buffer.concat(chunks, total);
  }
}

function fetcherFor(source: TrustSource, timeoutMs: number): { fetcher: CappedFetcher; metadataBaseUrl: string; urlOf: (key: string) => string } {
  if (typeof source === 'string' || source instanceof URL) {
    const s = String(source);
    if (/^https?:\/\//i.test(s)) {
      const base = s.endsWith('/') ? s : `${s}/`;
      return { fetcher: new HttpFetcher(base, timeoutMs), metadataBaseUrl: `${base}metadata/`, urlOf: (k) => base + k };
    }
    const path = s.startsWith('file:') ? new URL(s).pathname : s;
    source = new FolderTrustStore(path);
  }
  const label = source instanceof FolderTrustStore ? source.root : 'the trust store';
  return { fetcher: new StoreFetcher(source, label), metadataBaseUrl: `${STORE_URL_BASE}metadata/`, urlOf: (k) => STORE_URL_BASE + k };
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
// error mapping

interface ParsedMeta {
  type: string;
  version: number;
  expires: string;
  signatureKeyIds: string[];
}

function peek(bytes: Buffer | undefined): ParsedMeta | undefined {
  if (!bytes) return undefined;
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { signed?: Record<string, unknown>; signatures?: Array<{ keyid?: unknown }> };
    const s = j.signed ?? {};
    return {
      type: String(s['_type']),
      version: Number(s['version']),
      expires: String(s['expires']),
      signatureKeyIds: (j.signatures ?? []).map((x) => String(x.keyid)),
    };
  } catch {
    return undefined;
  }
}

function roleOfFile(file: string): { role: string; version: number | undefined } | undefined {
  const m = /(?:^|\/)(?:(\d+)\.)?(root|timestamp|snapshot|targets)\.json$/.exec(file);
  if (!m || !m[2]) return undefined;
  return { role: m[2], version: m[1] === undefined ? undefined : Number(m[1]) };
}

const PARENT: Record<string, string> = { timestamp: 'root', snapshot: 'timestamp', targets: 'snapshot', root: 'the previous root' };

function explain(e: unknown, fetcher: CappedFetcher, trustedRoot: Metadata<Root> | undefined): TrustVerificationError {
  const { last, label: sourceLabel } = fetcher;
  if (e instanceof TrustVerificationError) return e;
  const err = last?.error ?? e;
  const msg = err instanceof Error ? err.message : String(err);
  const outer = e instanceof Error ? e.message : String(e);
  const file = last?.file ?? 'metadata';
  const where = `${file} from ${sourceLabel}`;
  const served = peek(last?.bytes);
  const named = roleOfFile(file);

  if (err instanceof DownloadLengthMismatchError || /Max length reached/.test(msg)) {
    return new TrustVerificationError('endless-data', `refused ${where}: it is larger than the ${last?.maxLength ?? '?'} bytes allowed for it (endless-data attack, or a broken server)`, e);
  }
  if (err instanceof DownloadHTTPError) {
    if (err.statusCode === 404 || err.statusCode === 403) {
      const hint = named?.role === 'timestamp' ? ': nothing has been published there yet, or the source is wrong' : ': the repository is incomplete';
      const status = fetcher instanceof HttpFetcher ? ` (HTTP ${err.statusCode})` : '';
      return new TrustVerificationError('not-found', `${where} is missing${status}${hint}`, e);
    }
    return new TrustVerificationError('unavailable', `cannot fetch ${where}: HTTP ${err.statusCode}`, e);
  }
  if (last?.error !== undefined) {
    return new TrustVerificationError('unavailable', `cannot fetch ${where}: ${msg}`, e);
  }
  const isRoot = named?.role === 'root';
  if (/is expired/.test(outer)) {
    const role = /(\w+)\.json is expired/.exec(outer)?.[1] ?? named?.role ?? 'metadata';
    const same = role === named?.role;
    const when = same && served ? ` at ${served.expires}` : '';
    return new TrustVerificationError('freeze', `refused ${same ? where : `${role}.json from ${sourceLabel}`}: it expired${when} (freeze attack, or the publisher stopped re-signing)`, e);
  }
  if (/less than current version/.test(outer)) {
    return new TrustVerificationError('rollback', `refused ${where}: it goes back to older metadata than this device already trusts (${innerMessage(outer)}) — rollback attack`, e);
  }
  const rootVersion = /Expected version (\d+), got (\d+)/.exec(outer);
  if (isRoot && rootVersion) {
    const [, want, got] = rootVersion;
    return new TrustVerificationError(
      Number(got) < Number(want) ? 'rollback' : 'invalid',
      `refused ${where}: it should be root version ${want} but holds version ${got}`,
      e,
    );
  }
  if (/doesn't match timestamp|does not match snapshot version/.test(outer)) {
    return new TrustVerificationError('mix-and-match', `refused ${where}: ${innerMessage(outer)} (mix-and-match attack: metadata from different publications)`, e);
  }
  if (/Expected (hash|length)/.test(outer) && named) {
    const parent = PARENT[named.role] ?? 'its parent';
    if (served && served.type === named.role && named.version !== undefined && served.version !== named.version) {
      return new TrustVerificationError(
        'mix-and-match',
        `refused ${where}: ${parent} names ${named.role} version ${named.version} but the repository served version ${served.version} (mix-and-match attack)`,
        e,
      );
    }
    return new TrustVerificationError('tampered', `refused ${where}: its bytes do not match the hash and length ${parent} recorded (tampered or corrupted)`, e);
  }
  const sig = /(\w+) was signed by (\d+)\/(\d+) keys/.exec(outer);
  if (sig) {
    const [, role = '?', got, need] = sig;
    const trusted = trustedRoot?.signed.roles[role]?.keyIDs ?? [];
    const known = served?.signatureKeyIds.some((id) => trusted.includes(id)) ?? false;
    const what = isRoot && named?.version !== undefined
      ? `root version ${named.version} is signed by ${got} of the ${need} keys required (by root version ${named.version - 1} and by itself)`
      : `${role} is signed by ${got} of the ${need} trusted keys required`;
    return known
      ? new TrustVerificationError('tampered', `refused ${where}: ${what}; a signature by a trusted key does not match the content (tampered)`, e)
      : new TrustVerificationError('unsigned', `refused ${where}: ${what}; it carries no valid signature by a key the trusted root lists for ${role} (unknown or missing signatures)`, e);
  }
  if (err instanceof SyntaxError || /is not defined|must be|expected '|Failed to parse|JSON/.test(outer)) {
    return new TrustVerificationError('invalid', `refused ${where}: it is not valid TUF metadata (${innerMessage(outer)})`, e);
  }
  return new TrustVerificationError('invalid', `verification of ${where} failed: ${innerMessage(outer)}`, e);
}

/** tuf-js flattens some errors into "Unable to load X error Error: inner"; keep the inner part. */
function innerMessage(msg: string): string {
  return msg.replace(/^Unable to load [\w ]+? error (?:\w*Error: )?/, '');
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
    throw new TrustVerificationError('invalid-root', `the pinned trusted root is not valid root metadata: ${(e as Error).message}`, e);
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
      try { trusted = parseRoot(await readFile(join(work, 'root.json'))); } catch { trusted = pinned; }
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
    Metadata.fromJSON(kind as MetadataKind.Timestamp, JSON.parse((await readFile(join(work, `${kind}.json`))).toString('utf8')));
  const root = parseRoot(await readFile(join(work, 'root.json')));
  const timestamp = await read(MetadataKind.Timestamp);
  const snapshot = await read(MetadataKind.Snapshot);
  const targets = await read(MetadataKind.Targets);

  if (!info) {
    throw new TrustVerificationError('not-found', `targets version ${targets.signed.version} from ${fetcher.label} does not list ${target}`);
  }
  const digest = info.hashes['sha256'];
  if (digest === undefined || !/^[0-9a-f]{64}$/.test(digest)) {
    throw new TrustVerificationError('invalid', `targets version ${targets.signed.version} gives no sha256 for ${target}`);
  }
  const maxManifest = options.maxManifestBytes ?? 64 * 1024 * 1024;
  if (info.length > maxManifest) {
    throw new TrustVerificationError('endless-data', `targets version ${targets.signed.version} vouches for a ${info.length}-byte manifest, more than the ${maxManifest} bytes this client accepts`);
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
