// `model-gitops sync --trust root.json`: the ManifestProvider that verifies through TUF.
//
// Each poll:
//   1. Cheap check: a conditional GET of metadata/timestamp.json (If-None-Match with the ETag kept in
//      state.json). 304, or the very bytes this device already trusts (<dir>/trust/timestamp.json),
//      while the verified metadata has not expired => unchanged, one small request and no TUF work.
//   2. Otherwise the full TUF client refresh (fetchVerifiedManifest) from the pinned root and the
//      trusted state in <dir>/trust/, for the target environments/<env>.json (the environment's slice).
// TUF refusals are VerificationErrors (exit 1); an unreachable source is a NetworkError (exit 3).
// The manifest sequence is a second rollback floor on top of TUF's version checks.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../manifest/manifest.ts';
import type { AcceptedManifest } from './local-store.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { AcceptedManifestHolder, type ManifestProvider, type PollResult } from './manifest-provider.ts';
import { isOperationalError, NetworkError, VerificationError } from './errors.ts';
import type { BlobSource } from './source.ts';
import { UserError } from '../lib/errors.ts';
import { fetchVerifiedManifest, TrustVerificationError, type TrustSource } from '../trust/client.ts';
import { environmentTarget, MANIFEST_TARGET, TIMESTAMP_KEY } from '../trust/repository.ts';
import { openTrustStore } from '../trust/store-io.ts';

export interface TufManifestProviderOptions {
  /** Path of the pinned root (trust/root.json shipped with the device). */
  trustRoot: string;
  /** The store root as a BlobSource (for the cheap conditional poll of timestamp.json). */
  source: BlobSource;
  /** The same store root for the TUF client: http(s) base URL, folder path or a TrustStoreIO. */
  trustSource: TrustSource;
  /** Where this device keeps its trusted TUF metadata. */
  stateDir: string;
  /** Fetch environments/<environment>.json; without it, the full manifest.json. */
  environment?: string;
  accepted?: AcceptedManifest;
  now?: () => Date;
}

export class TufManifestProvider extends AcceptedManifestHolder implements ManifestProvider {
  private readonly o: TufManifestProviderOptions;
  /** What the last poll did, for tests and diagnostics. */
  lastPoll: 'not-modified' | 'same-timestamp' | 'refreshed' | undefined;

  constructor(o: TufManifestProviderOptions) {
    super(o.accepted);
    this.o = o;
  }

  async poll(signal?: AbortSignal): Promise<PollResult> {
    const now = (this.o.now ?? (() => new Date()))();
    const location = `${this.o.source.description}${TIMESTAMP_KEY}`;
    const prev = this.current;
    const usable = prev !== undefined && prev.sha256 !== '' && new Date(prev.expiresAt) > now;
    let etag: string | undefined;
    try {
      const r = await this.o.source.getConditional(TIMESTAMP_KEY, prev?.location === location ? prev.etag : undefined, {
        maxBytes: SYNC_DEFAULTS.maxTimestampBytes,
        ...(signal ? { signal } : {}),
      });
      if (r.notModified && usable) {
        this.lastPoll = 'not-modified';
        return { changed: false };
      }
      etag = r.etag;
      if (!r.notModified && usable) {
        const trusted = await readFile(join(this.o.stateDir, 'timestamp.json')).catch(() => undefined);
        if (trusted?.equals(r.bytes)) {
          this.current = { ...prev, location, ...(etag ? { etag } : {}) };
          this.lastPoll = 'same-timestamp';
          return { changed: false };
        }
      }
    } catch (e) {
      if ((e as Error).name === 'AbortError' || !isOperationalError(e)) throw e;
      // A store, network or disk failure falls through: the full refresh fetches timestamp.json again and explains it.
    }

    let trustedRoot: Buffer;
    try {
      trustedRoot = await readFile(this.o.trustRoot);
    } catch (e) {
      throw new UserError(`cannot read the trusted root ${this.o.trustRoot}: ${(e as Error).message}`);
    }
    const target = this.o.environment ? environmentTarget(this.o.environment) : MANIFEST_TARGET;
    let v;
    try {
      v = await fetchVerifiedManifest({ trustedRoot, stateDir: this.o.stateDir, source: this.o.trustSource, target });
    } catch (e) {
      if (e instanceof TrustVerificationError) {
        if (e.code === 'unavailable')
          throw new NetworkError(`cannot fetch the signed manifest: ${e.message}`, { cause: e });
        throw new VerificationError(`signed manifest refused (${e.code}): ${e.message}`, { cause: e });
      }
      throw e;
    }
    this.lastPoll = 'refreshed';
    const m = v.manifest as Manifest;
    if (!m || typeof m !== 'object' || !Number.isSafeInteger(m.sequence) || !m.environments || !m.models) {
      throw new VerificationError(`${target} is signed but lacks sequence, environments or models`);
    }
    if (prev && m.sequence < prev.sequence)
      throw new VerificationError(
        `signed manifest sequence ${m.sequence} is older than the accepted ${prev.sequence}: refused (rollback)`,
      );
    const accepted: AcceptedManifest = {
      sequence: m.sequence,
      sha256: v.sha256,
      expiresAt: v.expires,
      location,
      ...(etag ? { etag } : {}),
      acceptedAt: now.toISOString(),
    };
    if (prev && prev.sha256 === v.sha256) {
      // Re-signed (new expiry), same content.
      this.current = { ...accepted, ...(prev.acceptedAt ? { acceptedAt: prev.acceptedAt } : {}) };
      return { changed: false };
    }
    this.current = accepted;
    return { changed: true, manifest: m, bytes: v.manifestBytes };
  }
}

/** The TUF client as a source for the trust store: http(s) and folders directly, s3:// through the store adapter. */
function trustSourceFor(location: string | undefined, source: BlobSource): TrustSource {
  const loc = location ?? source.description;
  if (/^s3:\/\//i.test(loc)) return openTrustStore(loc);
  if (/^https?:\/\//i.test(loc)) return loc.endsWith('/') ? loc : `${loc}/`;
  return loc.startsWith('file://') ? new URL(loc).pathname : loc;
}

/** What `sync --trust <root.json>` knows when it builds its provider. */
export interface TrustedSyncOptions {
  /** Path of the pinned root. */
  trustRoot: string;
  source: BlobSource;
  /** The synced folder: the trusted TUF metadata is kept in <dir>/trust. */
  dir: string;
  accepted?: AcceptedManifest;
  /** The environment being synced (the provider fetches that environment's signed slice). */
  environment?: string;
  /** The store root as given on the command line (s3://…, https://…/, or a folder). */
  location?: string;
}

/** `sync --trust`: a TufManifestProvider with its state in <dir>/trust. */
export function tufProviderForSync(o: TrustedSyncOptions): TufManifestProvider {
  return new TufManifestProvider({
    trustRoot: o.trustRoot,
    source: o.source,
    trustSource: trustSourceFor(o.location, o.source),
    stateDir: join(o.dir, 'trust'),
    ...(o.environment ? { environment: o.environment } : {}),
    ...(o.accepted ? { accepted: o.accepted } : {}),
  });
}
