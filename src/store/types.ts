// The BlobStore contract shared by the S3 and folder stores.
import type { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { fileIdentity, type FileIdentity, sameIdentity } from './hash-cache.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * The sha256 the writer recorded: S3 x-amz-meta-sha256; folder store: for blob keys, the digest the
   * key names (putFile checked the bytes against it). Undefined when none was recorded.
   */
  sha256?: string;
  /** When the object was last written (list and head; what gc's grace period is measured against). */
  lastModified?: Date;
}

/** A multipart upload the store has started but not completed: its object does not exist yet. */
export interface PendingUpload {
  key: string;
  initiated?: Date;
}

/** Byte range [start, end): end exclusive, like safetensors data_offsets. end omitted = to the end. */
export interface ByteRange {
  start: number;
  end?: number;
}

export type PutProgress =
  | { kind: 'part'; key: string; partNumber: number; bytes: number; sentBytes: number; totalBytes: number }
  | { kind: 'resumed'; key: string; parts: number; bytes: number };

export interface PutFileOptions {
  /** The file's sha256 as hashed before; the store hashes the bytes it sends and refuses a mismatch. */
  sha256: string;
  size: number;
  /**
   * The file's identity (size, mtime, inode) when `sha256` was computed from its bytes in this run: the
   * store then does not hash the bytes again, and instead refuses the upload if the identity changed
   * by the time it has read them (the hash cache's rule). Without it the store hashes what it sends.
   */
  hashedAs?: FileIdentity;
  onProgress?: (p: PutProgress) => void;
}

export interface PutFileResult {
  /** Bytes sent to the store in this call (0 when the key already existed). */
  sentBytes: number;
  /** Multipart parts (and their bytes) an earlier, interrupted call had finished and this one reused. */
  resumedParts: number;
  resumedBytes: number;
  /** The key existed already (written by someone else); nothing was replaced. */
  existed: boolean;
}

export interface PutObjectOptions {
  /** Fail with AlreadyExistsError if the key exists (S3: If-None-Match: *). */
  exclusive?: boolean;
  contentType?: string;
  sha256?: string;
}

export interface BlobStore {
  /** A display form of where the store is (s3://bucket/prefix or file:///path). */
  readonly url: string;
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** Stream an object (or a byte range of it). Throws NotFoundError if missing. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Read a small object whole. Throws NotFoundError if missing. */
  getBytes(key: string): Promise<Buffer>;
  /** Upload a file under `key`, never replacing an existing object. */
  putFile(key: string, file: string, options: PutFileOptions): Promise<PutFileResult>;
  /** Write a small object (JSON, manifest, report). */
  putObject(key: string, body: string | Uint8Array, options?: PutObjectOptions): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete an object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Unfinished multipart uploads under `prefix` (stores without multipart uploads leave this out). */
  listUploads?(prefix: string): AsyncIterable<PendingUpload>;
}

export class AlreadyExistsError extends UserError {
  readonly key: string;
  constructor(store: string, key: string) {
    super(`${store}: "${key}" already exists (exclusive create refused to replace it)`);
    this.name = 'AlreadyExistsError';
    this.key = key;
  }
}

/** Bytes sent to the store did not hash to the digest the caller gave (the file changed under us). */
export function changedWhilePushing(file: string, expected: string, actual: string): UserError {
  return new UserError(
    `${file} changed while it was being pushed: its bytes now hash to ${actual}, expected ${expected}. Nothing was stored; push again.`,
  );
}

/** What to report as the bytes' hash for a putFile given `hashedAs` whose file is no longer what was hashed. */
export const CHANGED_SINCE_HASHED = 'unknown (its size, mtime or inode changed since it was hashed)';

/** For a putFile given `hashedAs`: the sha256 the bytes it read are known to have, or CHANGED_SINCE_HASHED. */
export async function hashedSha256(file: string, o: PutFileOptions): Promise<string> {
  return o.hashedAs && sameIdentity(o.hashedAs, await fileIdentity(file)) ? o.sha256 : CHANGED_SINCE_HASHED;
}
