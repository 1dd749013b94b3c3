// Where a device gets the manifest it follows, and the checks that keep an attacker from feeding it an
// old (rollback), stale (freeze) or forged one. The trust layer (TUF) plugs in as another
// ManifestProvider (tuf-provider.ts, imported only where `--trust` is used), or as the `verify` hook of
// this one; polls are conditional (If-None-Match), so an unchanged manifest costs one 304 and no body.
import { sha256Hex } from '../lib/hash.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { isUserError } from '../lib/errors.ts';
import { VerificationError } from './errors.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { type RetryPolicy, withRetry } from './fetch.ts';
import type { AcceptedManifest } from './local-store.ts';
import type { BlobSource } from './source.ts';
import { MANIFEST_KEY } from '../store/keys.ts';

export type PollResult = { changed: false } | { changed: true; manifest: Manifest; bytes: Buffer };

export interface ManifestProvider {
  poll(signal?: AbortSignal): Promise<PollResult>;
  /** When the last accepted manifest stops being trustworthy. */
  expires?(): Date | undefined;
  /** What to persist so the next process keeps rollback protection and cheap polls. */
  accepted?(): AcceptedManifest | undefined;
}

/** Throws (anything) to refuse the manifest's bytes: a signature check, a TUF client. */
export type ManifestVerifier = (bytes: Buffer) => void | Promise<void>;

export interface SourceManifestProviderOptions {
  source: BlobSource;
  key?: string;
  verify?: ManifestVerifier;
  /** The manifest accepted before (from state.json): its sequence is the floor, its ETag the validator. */
  accepted?: AcceptedManifest;
  now?: () => Date;
  /** Refuse manifests larger than this (endless data). Default SYNC_DEFAULTS.maxManifestBytes. */
  maxBytes?: number;
  retry?: RetryPolicy;
}

/** What every provider remembers between polls: the manifest it last accepted. */
export class AcceptedManifestHolder {
  protected current: AcceptedManifest | undefined;

  constructor(accepted: AcceptedManifest | undefined) {
    this.current = accepted;
  }

  accepted(): AcceptedManifest | undefined {
    return this.current;
  }

  expires(): Date | undefined {
    return this.current ? new Date(this.current.expiresAt) : undefined;
  }
}

export class SourceManifestProvider extends AcceptedManifestHolder implements ManifestProvider {
  private readonly o: SourceManifestProviderOptions;

  constructor(o: SourceManifestProviderOptions) {
    super(o.accepted);
    this.o = o;
  }

  async poll(signal?: AbortSignal): Promise<PollResult> {
    const key = this.o.key ?? MANIFEST_KEY;
    const now = (this.o.now ?? (() => new Date()))();
    const ctx = {
      source: this.o.source,
      retry: this.o.retry ?? SYNC_DEFAULTS.retry,
      stats: { bytesFetched: 0, requests: 0, retries: 0 },
      ...(signal ? { signal } : {}),
    };
    const location = `${this.o.source.description}${key}`;
    // An ETag only validates the URL it came from: a device pointed elsewhere fetches the body.
    const etag =
      this.current?.location === undefined || this.current.location === location ? this.current?.etag : undefined;
    const r = await withRetry(ctx, key, () =>
      this.o.source.getConditional(key, etag, {
        maxBytes: this.o.maxBytes ?? SYNC_DEFAULTS.maxManifestBytes,
        ...(signal ? { signal } : {}),
      }),
    );
    if (r.notModified) {
      // A server that keeps answering 304 cannot keep a device on an expired manifest (freeze attack).
      if (this.current && new Date(this.current.expiresAt) <= now)
        throw new VerificationError(
          `the manifest (sequence ${this.current.sequence}) expired at ${this.current.expiresAt} and the source offers nothing newer`,
        );
      return { changed: false };
    }
    try {
      await this.o.verify?.(r.bytes);
    } catch (e) {
      if (e instanceof VerificationError) throw e;
      throw new VerificationError(
        `manifest refused by the verifier: ${isUserError(e) || e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    let m: Manifest;
    try {
      m = JSON.parse(r.bytes.toString('utf8')) as Manifest;
    } catch (e) {
      throw new VerificationError(
        `the manifest at ${this.o.source.description}${key} is not JSON: ${(e as Error).message}`,
      );
    }
    if (
      !m ||
      typeof m !== 'object' ||
      !Number.isSafeInteger(m.sequence) ||
      typeof m.expiresAt !== 'string' ||
      Number.isNaN(Date.parse(m.expiresAt)) ||
      !m.environments ||
      !m.models
    ) {
      throw new VerificationError('the manifest lacks sequence, expiresAt, environments or models');
    }
    const sha256 = sha256Hex(r.bytes);
    const prev = this.current;
    if (prev && m.sequence < prev.sequence)
      throw new VerificationError(
        `manifest sequence ${m.sequence} is older than the accepted ${prev.sequence}: refused (rollback)`,
      );
    // sha256 '' means the device lost its copy: the sequence floor still holds, the same sequence is re-accepted.
    if (prev && m.sequence === prev.sequence && prev.sha256 !== '') {
      if (sha256 !== prev.sha256)
        throw new VerificationError(
          `manifest sequence ${m.sequence} has different content from the one accepted before: refused`,
        );
      this.current = { ...prev, location, ...(r.etag ? { etag: r.etag } : {}) };
      if (new Date(prev.expiresAt) <= now)
        throw new VerificationError(
          `the manifest (sequence ${prev.sequence}) expired at ${prev.expiresAt} and the source offers nothing newer`,
        );
      return { changed: false };
    }
    if (new Date(m.expiresAt) <= now)
      throw new VerificationError(`manifest sequence ${m.sequence} expired at ${m.expiresAt}: refused (freeze)`);
    this.current = {
      sequence: m.sequence,
      sha256,
      expiresAt: m.expiresAt,
      location,
      ...(r.etag ? { etag: r.etag } : {}),
      acceptedAt: now.toISOString(),
    };
    return { changed: true, manifest: m, bytes: r.bytes };
  }
}
