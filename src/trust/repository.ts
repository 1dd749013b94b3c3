// Publisher side of the TUF repository that vouches for `manifest.json`.
//
// Layout (keys relative to the store root; consistent snapshots):
//   metadata/<N>.root.json          every root version, so clients can walk a rotation
//   metadata/<V>.targets.json       targets role: sha256 + length of manifest.json
//   metadata/<S>.snapshot.json      snapshot role: version + hash of targets
//   metadata/timestamp.json         timestamp role: version + hash of the snapshot. THE current pointer:
//                                   always the last write of a publication
//   targets/<sha256>.manifest.json  the manifest bytes, content-addressed
//
// Versioned files are immutable and created with putIfAbsent. The snapshot version is the single
// serialisation point: a publication (or re-sign) first claims `<S+1>.snapshot.json`, and only the
// claimant writes the targets file it names and then timestamp.json. Because the next S is derived
// from timestamp.json, a second publisher cannot claim anything until the first has written its
// timestamp, so timestamp.json never goes backwards and no publication is lost.
import { MetaFile, Metadata, MetadataKind, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { UserError } from '../lib/errors.ts';
import { isSigningKey, tufKey, type PublicKey, type SigningKey } from './keys.ts';
import { type TrustStoreIO, checkStoreKey } from './repository-io.ts';
import { sha256Hex } from '../lib/hash.ts';
import {
  MANIFEST_TARGET,
  SPEC_VERSION,
  TIMESTAMP_KEY,
  rootKey,
  snapshotKey,
  targetsKey,
  targetObjectKey,
  type Expiries,
  ConcurrentPublishError,
  expiry,
  expiriesWith,
  serializeMetadata,
  metaFileFor,
  parseMetadata,
  signAsRole,
  asList,
  buildRoot,
} from './metadata.ts';
// Names importers know from this module; their one definition is in metadata.ts.
export {
  DEFAULT_EXPIRIES,
  ConcurrentPublishError,
  environmentTarget,
  manifestTargetKey,
  MANIFEST_TARGET,
  rootKey,
  serializeMetadata,
  snapshotKey,
  targetObjectKey,
  targetsKey,
  TIMESTAMP_KEY,
  type Expiries,
} from './metadata.ts';

// ---------------------------------------------------------------------------------------------
// reading the current state

export interface RootState {
  md: Metadata<Root>;
  version: number;
  bytes: Buffer;
}

/** The newest root in the store, checking that each version is signed by its predecessor's threshold. */
export async function loadLatestRoot(io: TrustStoreIO): Promise<RootState> {
  const first = await io.get(rootKey(1));
  if (!first) throw new UserError(`the store has no ${rootKey(1)}: initialise the trust repository first`);
  let cur: RootState = { md: parseMetadata(MetadataKind.Root, first, rootKey(1)), version: 1, bytes: first };
  for (;;) {
    const v = cur.version + 1;
    const bytes = await io.get(rootKey(v));
    if (!bytes) return cur;
    const md = parseMetadata(MetadataKind.Root, bytes, rootKey(v));
    try {
      if (md.signed.version !== v) throw new Error(`it says version ${md.signed.version}`);
      cur.md.verifyDelegate('root', md);
      md.verifyDelegate('root', md);
    } catch (e) {
      throw new UserError(
        `${rootKey(v)} in the store is not a valid successor of root version ${cur.version}: ${(e as Error).message}`,
      );
    }
    cur = { md, version: v, bytes };
  }
}

export interface PublishedState {
  timestamp: Metadata<Timestamp>;
  snapshot: Metadata<Snapshot>;
  targets: Metadata<Targets>;
  targetsVersion: number;
}

/** What timestamp.json currently points at (publisher side: read straight from the store, no client checks). */
export async function loadPublished(io: TrustStoreIO): Promise<PublishedState | undefined> {
  const tsBytes = await io.get(TIMESTAMP_KEY);
  if (!tsBytes) return undefined;
  const timestamp = parseMetadata(MetadataKind.Timestamp, tsBytes, TIMESTAMP_KEY);
  const sv = timestamp.signed.snapshotMeta.version;
  const snBytes = await io.get(snapshotKey(sv));
  if (!snBytes)
    throw new UserError(
      `timestamp.json points at snapshot version ${sv} but ${snapshotKey(sv)} is missing from the store`,
    );
  const snapshot = parseMetadata(MetadataKind.Snapshot, snBytes, snapshotKey(sv));
  const tm = snapshot.signed.meta['targets.json'];
  if (!tm) throw new UserError(`${snapshotKey(sv)} lists no targets.json`);
  const tgBytes = await io.get(targetsKey(tm.version));
  if (!tgBytes)
    throw new UserError(
      `snapshot version ${sv} points at targets version ${tm.version} but ${targetsKey(tm.version)} is missing from the store`,
    );
  const targets = parseMetadata(MetadataKind.Targets, tgBytes, targetsKey(tm.version));
  return { timestamp, snapshot, targets, targetsVersion: tm.version };
}

// ---------------------------------------------------------------------------------------------
// the shared publication step

interface OnlineKeys {
  snapshot: SigningKey;
  timestamp: SigningKey;
}

/** Points inside a publication, in order, for callers that trace (or, in tests, crash at) each one. */
export type PublicationStep = 'target-files-written' | 'snapshot-claimed' | 'targets-written';

export interface PublicationResult {
  timestampVersion: number;
  snapshotVersion: number;
  targetsVersion: number;
}

async function firstFree(io: TrustStoreIO, from: number, key: (v: number) => string): Promise<number> {
  let v = from;
  while ((await io.get(key(v))) !== undefined) v++;
  return v;
}

/**
 * Claim the next snapshot version, write the new targets (if any) and then timestamp.json.
 * `makeTargets` builds the new (unsigned) targets for the version chosen here, or is undefined to keep the current targets.
 */
async function writePublication(args: {
  io: TrustStoreIO;
  root: RootState;
  current: PublishedState | undefined;
  makeTargets: ((version: number) => Targets) | undefined;
  targetsKeys: readonly SigningKey[];
  keys: OnlineKeys;
  now: Date;
  expiries: Expiries;
  skipOrphanedVersions: boolean;
  onStep?: ((step: PublicationStep) => void) | undefined;
}): Promise<PublicationResult> {
  const { io, root, current, now, expiries } = args;
  const rootSigned = root.md.signed;

  let targetsVersion: number;
  let targetsBytes: Buffer | undefined;
  if (args.makeTargets) {
    targetsVersion = (current?.targetsVersion ?? 0) + 1;
    if (args.skipOrphanedVersions) targetsVersion = await firstFree(io, targetsVersion, targetsKey);
    const md = new Metadata(args.makeTargets(targetsVersion));
    signAsRole(md, 'targets', rootSigned, args.targetsKeys, root.version);
    targetsBytes = serializeMetadata(md);
  } else {
    if (!current) throw new UserError('nothing has been published yet: publish a manifest first');
    targetsVersion = current.targetsVersion;
  }
  const targetsMeta = targetsBytes
    ? metaFileFor(targetsVersion, targetsBytes)
    : (current!.snapshot.signed.meta['targets.json'] as MetaFile);

  let snapshotVersion = (current?.snapshot.signed.version ?? 0) + 1;
  if (args.skipOrphanedVersions) snapshotVersion = await firstFree(io, snapshotVersion, snapshotKey);
  const snapshot = new Metadata(
    new Snapshot({
      version: snapshotVersion,
      specVersion: SPEC_VERSION,
      expires: expiry(now, expiries.snapshot),
      meta: { 'targets.json': targetsMeta },
    }),
  );
  signAsRole(snapshot, 'snapshot', rootSigned, [args.keys.snapshot], root.version);
  const snapshotBytes = serializeMetadata(snapshot);

  const timestampVersion = (current?.timestamp.signed.version ?? 0) + 1;
  const timestamp = new Metadata(
    new Timestamp({
      version: timestampVersion,
      specVersion: SPEC_VERSION,
      expires: expiry(now, expiries.timestamp),
      snapshotMeta: metaFileFor(snapshotVersion, snapshotBytes),
    }),
  );
  signAsRole(timestamp, 'timestamp', rootSigned, [args.keys.timestamp], root.version);
  const timestampBytes = serializeMetadata(timestamp);

  // 1. The claim. Whoever creates <S>.snapshot.json owns this publication.
  if (!(await io.putIfAbsent(snapshotKey(snapshotVersion), snapshotBytes))) {
    throw new ConcurrentPublishError(
      `concurrent publish: snapshot version ${snapshotVersion} already exists in the store (another publish claimed it first); retry. ` +
        `If no other publish is running, a crashed one left it behind: retry with skipOrphanedVersions.`,
      snapshotVersion,
    );
  }
  args.onStep?.('snapshot-claimed');
  // 2. What the snapshot points at. Nothing references it until timestamp.json does.
  if (targetsBytes && !(await io.putIfAbsent(targetsKey(targetsVersion), targetsBytes))) {
    throw new ConcurrentPublishError(
      `concurrent publish: targets version ${targetsVersion} already exists in the store although this publish claimed snapshot ` +
        `version ${snapshotVersion}; an earlier publish crashed half-way. Retry with skipOrphanedVersions when no other publish is running.`,
      targetsVersion,
    );
  }
  args.onStep?.('targets-written');
  // 3. The pointer, last.
  await io.put(TIMESTAMP_KEY, timestampBytes);
  return { timestampVersion, snapshotVersion, targetsVersion };
}

// ---------------------------------------------------------------------------------------------
// public API

export interface InitRepositoryOptions {
  io: TrustStoreIO;
  /** Root keys. Those given as SigningKey sign root version 1; at least `rootThreshold` must be. */
  rootKeys: readonly PublicKey[];
  rootThreshold: number;
  targetsKeys: readonly PublicKey[];
  /** Default 1. */
  targetsThreshold?: number;
  snapshotKey: PublicKey;
  timestampKey: PublicKey;
  expiries?: Partial<Expiries>;
  now?: Date;
}

export interface InitRepositoryResult {
  /** The bytes of `metadata/1.root.json`: pin them on devices and commit them as `trust/root.json`. */
  rootBytes: Buffer;
  rootVersion: 1;
}

/** Create root version 1 in an empty store. Refuses a store that already has one. */
export async function initRepository(options: InitRepositoryOptions): Promise<InitRepositoryResult> {
  const now = options.now ?? new Date();
  const expiries = expiriesWith(options.expiries);
  const root = buildRoot(1, expiry(now, expiries.root), {
    rootKeys: options.rootKeys,
    rootThreshold: options.rootThreshold,
    targetsKeys: options.targetsKeys,
    targetsThreshold: options.targetsThreshold ?? 1,
    snapshotKey: options.snapshotKey,
    timestampKey: options.timestampKey,
  });
  const md = new Metadata(root);
  signAsRole(md, 'root', root, options.rootKeys.filter(isSigningKey), 1);
  const rootBytes = serializeMetadata(md);
  if (!(await options.io.putIfAbsent(rootKey(1), rootBytes))) {
    throw new UserError(
      `the store already has ${rootKey(1)}: the trust repository is initialised (rotate the root instead)`,
    );
  }
  return { rootBytes, rootVersion: 1 };
}

export interface PublishKeys {
  /** Enough targets keys to meet the targets threshold. */
  targets: SigningKey | readonly SigningKey[];
  snapshot: SigningKey;
  timestamp: SigningKey;
}

export interface PublishManifestOptions {
  io: TrustStoreIO;
  manifestBytes: Buffer;
  /** More signed targets published with the manifest, by target name (e.g. per-environment slices). */
  extraTargets?: Record<string, Buffer>;
  keys: PublishKeys;
  now?: Date;
  expiries?: Partial<Expiries>;
  /**
   * Skip versioned files a crashed publish created but never referenced. Only safe when no other
   * publish can be running (e.g. under the workflow's fixed concurrency group).
   */
  skipOrphanedVersions?: boolean;
  /**
   * Compare-and-swap guard: refuse (ConcurrentPublishError) unless timestamp.json still points at this
   * snapshot version (0 = nothing published yet). A caller that checked the current publication
   * before deciding to publish passes what it saw, so nothing can slip in between the check and the claim.
   */
  expectSnapshotVersion?: number;
  /** Called at each step of the publication (tracing; crash tests). */
  onStep?: (step: PublicationStep) => void;
}

export interface PublishManifestResult {
  targetsVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  sha256: string;
  length: number;
}

/**
 * Publish `manifestBytes` as the new manifest.json: content-addressed manifest, then targets,
 * snapshot, and timestamp.json last. Throws ConcurrentPublishError if another publisher claimed the
 * version first (nothing this call wrote is referenced then; just retry).
 */
export async function publishManifest(options: PublishManifestOptions): Promise<PublishManifestResult> {
  const { io, manifestBytes } = options;
  try {
    JSON.parse(manifestBytes.toString('utf8'));
  } catch (e) {
    throw new UserError(`the manifest to publish is not JSON: ${(e as Error).message}`);
  }
  const now = options.now ?? new Date();
  const expiries = expiriesWith(options.expiries);
  const root = await loadLatestRoot(io);
  const current = await loadPublished(io);
  const seen = current?.snapshot.signed.version ?? 0;
  if (options.expectSnapshotVersion !== undefined && seen !== options.expectSnapshotVersion) {
    throw new ConcurrentPublishError(
      `concurrent publish: timestamp.json moved to snapshot version ${seen} (expected ${options.expectSnapshotVersion}); re-check and retry`,
      seen,
    );
  }
  const digest = sha256Hex(manifestBytes);
  const length = manifestBytes.length;

  const targetFiles = new Map<string, Buffer>([
    [MANIFEST_TARGET, manifestBytes],
    ...Object.entries(options.extraTargets ?? {}),
  ]);
  for (const [name, bytes] of targetFiles) {
    if (name !== MANIFEST_TARGET) checkStoreKey(`targets/${name}`);
    // Content-addressed, so an existing file must hold exactly these bytes; repair it if it does not.
    const digestOf = sha256Hex(bytes);
    const key = targetObjectKey(name, digestOf);
    if (!(await io.putIfAbsent(key, bytes))) {
      const existing = await io.get(key);
      if (!existing || sha256Hex(existing) !== digestOf) await io.put(key, bytes);
    }
  }
  options.onStep?.('target-files-written');

  const result = await writePublication({
    io,
    root,
    current,
    makeTargets: (version) => {
      const t = new Targets({ version, specVersion: SPEC_VERSION, expires: expiry(now, expiries.targets) });
      for (const [name, bytes] of targetFiles)
        t.addTarget(new TargetFile({ path: name, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } }));
      return t;
    },
    targetsKeys: asList(options.keys.targets),
    keys: options.keys,
    now,
    expiries,
    skipOrphanedVersions: options.skipOrphanedVersions ?? false,
    onStep: options.onStep,
  });
  return { ...result, sha256: digest, length };
}

export interface ResignOptions {
  io: TrustStoreIO;
  keys: { snapshot: SigningKey; timestamp: SigningKey; targets?: SigningKey | readonly SigningKey[] };
  now?: Date;
  expiries?: Partial<Expiries>;
  /**
   * Re-sign targets too when it expires within this many seconds of `now` (default: half the targets
   * lifetime, so a daily re-sign renews a 7-day targets every 3.5 days). Needs `keys.targets`.
   */
  renewTargetsWithin?: number;
  skipOrphanedVersions?: boolean;
}

export interface ResignResult extends PublicationResult {
  targetsRenewed: boolean;
  /** Expiry of timestamp, snapshot and targets after the re-sign. */
  expires: { timestamp: string; snapshot: string; targets: string };
}

/** Re-sign timestamp and snapshot (and targets when close to expiry) with fresh expiries; the manifest is unchanged. */
export async function resign(options: ResignOptions): Promise<ResignResult> {
  const { io } = options;
  const now = options.now ?? new Date();
  const expiries = expiriesWith(options.expiries);
  const root = await loadLatestRoot(io);
  const current = await loadPublished(io);
  if (!current) throw new UserError('nothing has been published yet: there is nothing to re-sign');
  const within = options.renewTargetsWithin ?? expiries.targets / 2;
  const renew = new Date(current.targets.signed.expires).getTime() <= now.getTime() + within * 1000;
  if (renew && options.keys.targets === undefined) {
    throw new UserError(
      `targets.json (version ${current.targetsVersion}) expires at ${current.targets.signed.expires}, within ${within} s: ` +
        'pass the targets key so it is re-signed too',
    );
  }
  const targetsExpires = renew ? expiry(now, expiries.targets) : current.targets.signed.expires;
  const result = await writePublication({
    io,
    root,
    current,
    makeTargets: renew
      ? (version) =>
          new Targets({
            version,
            specVersion: SPEC_VERSION,
            expires: targetsExpires,
            targets: current.targets.signed.targets,
          })
      : undefined,
    targetsKeys: options.keys.targets === undefined ? [] : asList(options.keys.targets),
    keys: options.keys,
    now,
    expiries,
    skipOrphanedVersions: options.skipOrphanedVersions ?? false,
  });
  return {
    ...result,
    targetsRenewed: renew,
    expires: {
      timestamp: expiry(now, expiries.timestamp),
      snapshot: expiry(now, expiries.snapshot),
      targets: targetsExpires,
    },
  };
}

export interface RotateRootOptions {
  io: TrustStoreIO;
  /** Keys of the current root; at least its root threshold of them must be given. */
  oldRootKeys: readonly SigningKey[];
  /** Root keys of the new version. Those given as SigningKey sign it; at least `newRootThreshold` must be. */
  newRootKeys: readonly PublicKey[];
  newRootThreshold: number;
  /** Default: unchanged from the current root. When the online keys change, re-sign with the new keys right after. */
  targetsKeys?: readonly PublicKey[];
  targetsThreshold?: number;
  snapshotKey?: PublicKey;
  timestampKey?: PublicKey;
  expiries?: Partial<Expiries>;
  now?: Date;
}

export interface RotateRootResult {
  rootVersion: number;
  rootBytes: Buffer;
}

/** Write root version N+1, signed by a threshold of the old root keys and a threshold of the new ones. */
export async function rotateRoot(options: RotateRootOptions): Promise<RotateRootResult> {
  const { io } = options;
  const now = options.now ?? new Date();
  const expiries = expiriesWith(options.expiries);
  const old = await loadLatestRoot(io);
  const oldSigned = old.md.signed;
  const keysOf = (role: string): PublicKey[] =>
    (oldSigned.roles[role]?.keyIDs ?? []).map((id) => {
      const k = oldSigned.keys[id];
      const pub = k?.keyVal['public'];
      if (!k || pub === undefined)
        throw new UserError(`root version ${old.version} lists key ${id} for ${role} but does not define it`);
      return { keyId: id, publicHex: pub };
    });
  const one = (role: string): PublicKey => {
    const ks = keysOf(role);
    if (ks.length !== 1 || !ks[0])
      throw new UserError(`root version ${old.version} has ${ks.length} ${role} keys; pass ${role}Key explicitly`);
    return ks[0];
  };
  const version = old.version + 1;
  const root = buildRoot(version, expiry(now, expiries.root), {
    rootKeys: options.newRootKeys,
    rootThreshold: options.newRootThreshold,
    targetsKeys: options.targetsKeys ?? keysOf('targets'),
    targetsThreshold:
      options.targetsThreshold ?? (options.targetsKeys ? 1 : (oldSigned.roles['targets']?.threshold ?? 1)),
    snapshotKey: options.snapshotKey ?? one('snapshot'),
    timestampKey: options.timestampKey ?? one('timestamp'),
  });
  const md = new Metadata(root);
  // Old threshold first (so the error names the old keys when they are missing), then the new one.
  signAsRole(md, 'root', oldSigned, options.oldRootKeys, old.version);
  const newSigners = options.newRootKeys.filter(isSigningKey);
  const extra = newSigners.filter((k) => md.signatures[k.keyId] === undefined);
  for (const k of extra) md.sign(k.signer);
  const newCount = newSigners.filter((k) => md.signatures[k.keyId] !== undefined).length;
  if (newCount < options.newRootThreshold) {
    throw new UserError(
      `the new root needs ${options.newRootThreshold} signatures from its own keys but ${newCount} signing key(s) were given`,
    );
  }
  // The same checks a client will make.
  old.md.verifyDelegate('root', md);
  md.verifyDelegate('root', md);
  const rootBytes = serializeMetadata(md);
  if (!(await io.putIfAbsent(rootKey(version), rootBytes))) {
    throw new ConcurrentPublishError(
      `concurrent root rotation: ${rootKey(version)} already exists; reload and retry`,
      version,
    );
  }
  return { rootVersion: version, rootBytes };
}
