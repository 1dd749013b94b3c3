// The BlobStore contract shared by the S3 and folder stores.
import type { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * The sha256 the writer recorded: S3 x-amz-meta-sha256; folder store: for blob keys, the digest the
   * key names (putFile checked the bytes against it). Undefined when none was recorded.
   */
  sha256?: string;
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
