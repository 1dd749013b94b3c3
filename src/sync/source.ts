// Where bytes come from. A BlobSource reports facts (status, Content-Range, ETag, the body) and does
// not judge them: fetch.ts checks every answer against what was asked, the same way for every source,
// so a misbehaving server, proxy or bucket is caught in one place.
import type { Readable } from 'node:stream';
import { VerificationError } from './errors.ts';

export interface ObjectMeta {
  /** Total size of the object, when the source says it. */
  size?: number;
  /** Validator of the object's current bytes (quoted as the server sent it). */
  etag?: string;
}

export interface GetOptions {
  /** [start, endExclusive): ask for these bytes only. */
  range?: [number, number];
  /** Only honour `range` if the object still has this ETag (HTTP If-Range; S3 If-Match). */
  ifRange?: string;
  signal?: AbortSignal;
}

export interface GetResult extends ObjectMeta {
  /** 200: the whole object; 206: a part of it, described by contentRange. */
  status: 200 | 206;
  /** What the body holds, as the source said it: [start, endExclusive) of `total`. */
  contentRange?: { start: number; end: number; total?: number };
  /** Declared body length, if any. */
  contentLength?: number;
  body: Readable;
}

export type ConditionalResult =
  | { notModified: true; etag?: string }
  | { notModified: false; etag?: string; bytes: Buffer };

export interface BlobSource {
  /** A human-readable description for messages (URL, folder, bucket). */
  readonly description: string;
  get(key: string, options?: GetOptions): Promise<GetResult>;
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectMeta>;
  /** GET unless the object still has `etag` (If-None-Match): an unchanged object costs no body. */
  getConditional(
    key: string,
    etag: string | undefined,
    options?: { signal?: AbortSignal; maxBytes?: number },
  ): Promise<ConditionalResult>;
  close?(): void;
}

/** Parses `bytes a-b/total` (total may be `*`) into [a, b+1). */
export function parseContentRange(
  value: string | undefined,
): { start: number; end: number; total?: number } | undefined {
  if (!value) return undefined;
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  if (end <= start) return undefined;
  return m[3] === '*' ? { start, end } : { start, end, total: Number(m[3]) };
}

export function rangeHeader([start, end]: [number, number]): string {
  return `bytes=${start}-${end - 1}`;
}

/** Reads a whole (small) body, refusing more than maxBytes: an endless answer must not fill memory. */
export async function readAll(body: Readable, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > maxBytes) {
      body.destroy();
      throw new VerificationError(`${what} is larger than ${maxBytes} bytes; refused`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
