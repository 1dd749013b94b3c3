// The TUF metadata of the manifest channel: object names in the store, expiries, and the role
// helpers (parse, sign, build a root) that the publisher side (repository.ts) composes.
import { MetaFile, Metadata, MetadataKind, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import { UserError } from '../lib/errors.ts';
import { sha256Hex } from '../lib/hash.ts';
import { MANIFEST_KEY } from '../store/keys.ts';
import { isSigningKey, tufKey, type PublicKey, type SigningKey } from './keys.ts';
import { checkStoreKey } from './repository-io.ts';
import { EXIT } from '../lib/exit-codes.ts';

type JSONObject = ReturnType<Root['toJSON']>;

/** The TUF target name the manifest is published under. */
/** The TUF target name of the whole manifest: the same name as its convenience copy in the store. */
export const MANIFEST_TARGET = MANIFEST_KEY;
export const SPEC_VERSION = '1.0.31';
/** The TUF repository's two key families in the store: signed metadata and content-addressed targets. */
export const TUF_PREFIXES = { metadata: 'metadata/', targets: 'targets/' } as const;
export const TIMESTAMP_KEY = 'metadata/timestamp.json';
export const rootKey = (version: number): string => `metadata/${version}.root.json`;
export const snapshotKey = (version: number): string => `metadata/${version}.snapshot.json`;
export const targetsKey = (version: number): string => `metadata/${version}.targets.json`;
export const manifestTargetKey = (sha256: string): string => targetObjectKey(MANIFEST_TARGET, sha256);
/** TUF consistent-snapshot name of a target: `dir/name.json` is stored as `targets/dir/<sha256>.name.json`. */
export function targetObjectKey(target: string, sha256: string): string {
  const slash = target.lastIndexOf('/');
  return `targets/${target.slice(0, slash + 1)}${sha256}.${target.slice(slash + 1)}`;
}
/** Target name of one environment's slice of the manifest: what a device of that environment polls. */
export const environmentTarget = (environment: string): string => `environments/${environment}.json`;

/** How long each role's metadata stays valid after it is signed, in seconds. */
export interface Expiries {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

const DAY = 86_400;
export const DEFAULT_EXPIRIES: Readonly<Expiries> = Object.freeze({
  root: 365 * DAY,
  targets: 7 * DAY,
  snapshot: 7 * DAY,
  timestamp: 1 * DAY,
});

/** A publish or re-sign lost the race for a version another publisher claimed first. Retry. */
export class ConcurrentPublishError extends UserError {
  readonly version: number;
  constructor(message: string, version: number) {
    super(message, { exitCode: EXIT.retryLater });
    this.name = 'ConcurrentPublishError';
    this.version = version;
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

export function expiry(now: Date, seconds: number): string {
  if (!(seconds > 0)) throw new UserError(`expiry must be a positive number of seconds, got ${seconds}`);
  // TUF wants RFC 3339 without fractional seconds.
  return new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function expiriesWith(partial: Partial<Expiries> | undefined): Expiries {
  return { ...DEFAULT_EXPIRIES, ...partial };
}

/** Metadata as stored: pretty JSON (the signature covers the canonical form of `signed`, not these bytes). */
export function serializeMetadata(md: Metadata<Root | Timestamp | Snapshot | Targets>): Buffer {
  return Buffer.from(`${JSON.stringify(md.toJSON(), null, 2)}\n`);
}

export function metaFileFor(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } });
}

export function parseMetadata<K extends MetadataKind>(kind: K, bytes: Buffer, where: string) {
  try {
    return Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(bytes.toString('utf8'))) as unknown as Metadata<
      K extends MetadataKind.Root
        ? Root
        : K extends MetadataKind.Timestamp
          ? Timestamp
          : K extends MetadataKind.Snapshot
            ? Snapshot
            : Targets
    >;
  } catch (e) {
    throw new UserError(`${where} in the store is not valid ${kind} metadata: ${(e as Error).message}`);
  }
}

/** Sign `md` as `role` with `keys`, refusing keys the root does not list for the role or too few of them. */
export function signAsRole(
  md: Metadata<Root | Timestamp | Snapshot | Targets>,
  role: string,
  root: Root,
  keys: readonly SigningKey[],
  rootVersion: number,
): void {
  const r = root.roles[role];
  if (!r) throw new UserError(`root version ${rootVersion} defines no ${role} role`);
  const seen = new Set<string>();
  for (const k of keys) {
    if (!r.keyIDs.includes(k.keyId)) {
      throw new UserError(
        `the ${role} key ${k.keyId.slice(0, 12)}… is not one of the keys root version ${rootVersion} trusts for ${role}`,
      );
    }
    if (seen.has(k.keyId)) continue;
    seen.add(k.keyId);
    md.sign(k.signer);
  }
  if (seen.size < r.threshold) {
    throw new UserError(
      `${role} needs ${r.threshold} signatures (threshold of root version ${rootVersion}) but ${seen.size} key(s) were given`,
    );
  }
}

export function asList<T>(x: T | readonly T[]): readonly T[] {
  return Array.isArray(x) ? (x as readonly T[]) : [x as T];
}

export function checkThreshold(what: string, threshold: number, count: number): void {
  if (!Number.isInteger(threshold) || threshold < 1)
    throw new UserError(`${what} threshold must be a whole number >= 1, got ${threshold}`);
  if (threshold > count) throw new UserError(`${what} threshold ${threshold} is more than its ${count} key(s)`);
}

export function uniqueKeys(what: string, keys: readonly PublicKey[]): readonly PublicKey[] {
  const ids = new Set(keys.map((k) => k.keyId));
  if (ids.size !== keys.length) throw new UserError(`${what} keys contain the same key twice`);
  return keys;
}

export interface RoleSpec {
  rootKeys: readonly PublicKey[];
  rootThreshold: number;
  targetsKeys: readonly PublicKey[];
  targetsThreshold: number;
  snapshotKey: PublicKey;
  timestampKey: PublicKey;
}

export function buildRoot(version: number, expires: string, spec: RoleSpec): Root {
  uniqueKeys('root', spec.rootKeys);
  uniqueKeys('targets', spec.targetsKeys);
  checkThreshold('root', spec.rootThreshold, spec.rootKeys.length);
  checkThreshold('targets', spec.targetsThreshold, spec.targetsKeys.length);
  // Root.fromJSON rather than `new Root`: @tufjs/models does not export the Role class.
  const keys: Record<string, JSONObject> = {};
  const role = (ks: readonly PublicKey[], threshold: number) => {
    for (const k of ks) keys[k.keyId] = tufKey(k).toJSON();
    return { keyids: ks.map((k) => k.keyId), threshold };
  };
  const roles = {
    root: role(spec.rootKeys, spec.rootThreshold),
    targets: role(spec.targetsKeys, spec.targetsThreshold),
    snapshot: role([spec.snapshotKey], 1),
    timestamp: role([spec.timestampKey], 1),
  };
  const root = Root.fromJSON({
    _type: 'root',
    spec_version: SPEC_VERSION,
    version,
    expires,
    consistent_snapshot: true,
    keys,
    roles,
  });
  return root;
}
