// Fetching with every answer checked: a Range request must come back 206 with exactly the asked
// Content-Range, the same ETag as the object had, and exactly the asked number of bytes. Anything else
// is discarded (never spliced into a file) and retried with backoff, or reported to the caller, who
// falls back to a whole download. Whole downloads resume after an interruption with Range + If-Range.
import { ftruncateSync, writeFileSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../lib/backoff.ts';
import { crashPoint } from './crash.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { NetworkError, type TransientCode, TransientError, VerificationError } from './errors.ts';
import { wrapStreamError } from './http-source.ts';
import { type BlobSource, type GetResult, readAll } from './source.ts';
import { readChunks } from '../lib/hash.ts';
import { type ClaimedRange, FileProver, type Proof } from './prove.ts';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}
/** SYNC_DEFAULTS.retry, by its older name. */
export const DEFAULT_RETRY: RetryPolicy = SYNC_DEFAULTS.retry;

export interface FetchStats {
  bytesFetched: number;
  requests: number;
  retries: number;
}

export interface FetchContext {
  source: BlobSource;
  retry: RetryPolicy;
  signal?: AbortSignal;
  stats: FetchStats;
  onRetry?: (info: { what: string; attempt: number; error: string; delayMs: number }) => void;
  /** Called with every body chunk's length, for progress. */
  onBytes?: (n: number) => void;
}

/** Errors retrying cannot fix unless the caller changes its approach. */
const NOT_RETRIED = new Set<TransientCode>(['range-ignored', 'changed']);

/**
 * Runs `fn` until it succeeds, retrying TransientErrors with exponential backoff and full jitter.
 * After the last attempt the failure becomes a NetworkError (exit code 3).
 */
export async function withRetry<T>(
  ctx: FetchContext,
  what: string,
  fn: (attempt: number) => Promise<T>,
  retryable: (e: TransientError) => boolean = (e) => !NOT_RETRIED.has(e.code),
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      ctx.stats.requests++;
      return await fn(attempt);
    } catch (e) {
      if (!(e instanceof TransientError) || !retryable(e)) throw e;
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      if (attempt >= ctx.retry.attempts)
        throw new NetworkError(`${what}: gave up after ${attempt} attempts: ${e.message}`, { cause: e });
      const delayMs = Math.round(backoffDelay(attempt, ctx.retry));
      ctx.stats.retries++;
      ctx.onRetry?.({ what, attempt, error: e.message, delayMs });
      await sleep(delayMs, undefined, ctx.signal ? { signal: ctx.signal } : {});
    }
  }
}

/**
 * Writes a body at `position`, demanding exactly `length` bytes: a short body (connection closed
 * early, lying Content-Length) or a long one is a TransientError, never a silently wrong file. Only
 * reading the body is a network failure (retried); a failed write (disk full) or a throwing
 * `onWritten` is not, and comes out as it is.
 */
async function streamInto(
  ctx: FetchContext,
  body: Readable,
  fh: FileHandle,
  position: number,
  length: number,
  what: string,
  onWritten?: (chunk: Buffer, position: number) => void,
): Promise<void> {
  let got = 0;
  const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw wrapStreamError(e, what);
      }
      if (next.done) break;
      const chunk = next.value;
      if (got + chunk.length > length)
        throw new TransientError('long-body', `${what}: more bytes than the ${length} asked for`);
      await fh.write(chunk, 0, chunk.length, position + got);
      onWritten?.(chunk, position + got);
      got += chunk.length;
      ctx.stats.bytesFetched += chunk.length;
      ctx.onBytes?.(chunk.length);
      if (got < length) crashPoint('mid-range-download');
    }
  } catch (e) {
    body.destroy();
    throw e;
  }
  if (got < length) throw new TransientError('short-body', `${what}: body ended after ${got} of ${length} bytes`);
}

function discard(r: GetResult): void {
  r.body.destroy();
}

/** Fetches [start, end) of `key` into `fh` at the same offset, checking status, Content-Range and ETag. */
export async function fetchRange(
  ctx: FetchContext,
  key: string,
  [start, end]: [number, number],
  expect: { size: number; etag?: string },
  fh: FileHandle,
): Promise<{ etag?: string }> {
  const what = `${key} bytes ${start}-${end - 1}`;
  return withRetry(ctx, what, async () => {
    const r = await ctx.source.get(key, { range: [start, end], ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (r.status !== 206) {
      discard(r);
      throw new TransientError('range-ignored', `${what}: the source answered ${r.status} to a Range request`);
    }
    const cr = r.contentRange;
    if (!cr || cr.start !== start || cr.end !== end) {
      discard(r);
      throw new TransientError(
        'bad-content-range',
        `${what}: wrong Content-Range ${cr ? `${cr.start}-${cr.end - 1}` : '(none)'}`,
      );
    }
    if (
      (cr.total !== undefined && cr.total !== expect.size) ||
      (expect.etag !== undefined && r.etag !== undefined && r.etag !== expect.etag)
    ) {
      discard(r);
      throw new TransientError(
        'changed',
        `${what}: the object changed (ETag ${expect.etag} -> ${r.etag}, size ${expect.size} -> ${cr.total})`,
      );
    }
    await streamInto(ctx, r.body, fh, start, end - start, what);
    return r.etag !== undefined ? { etag: r.etag } : {};
  });
}

/** Fetches a small object whole (an index), refusing more than maxBytes. */
export async function fetchSmall(ctx: FetchContext, key: string, maxBytes: number): Promise<Buffer> {
  return withRetry(ctx, key, async () => {
    const r = await ctx.source.get(key, ctx.signal ? { signal: ctx.signal } : {});
    if (r.status !== 200) {
      discard(r);
      throw new TransientError('bad-content-range', `${key}: the source answered ${r.status} to a plain GET`);
    }
    const bytes = await readAll(r.body, maxBytes, key).catch((e: unknown) => {
      throw wrapStreamError(e, key);
    });
    if (r.contentLength !== undefined && bytes.length !== r.contentLength)
      throw new TransientError('short-body', `${key}: body ended after ${bytes.length} of ${r.contentLength} bytes`);
    ctx.stats.bytesFetched += bytes.length;
    return bytes;
  });
}

interface PartialMeta {
  etag?: string;
  size: number;
}

/**
 * Downloads `key` (expected `size` bytes) into `partial`, resuming what an earlier, interrupted run
 * left there when the validator saved beside it (`partial.json`) still matches. A 200 answer to a
 * resume means the object changed or ranges are not supported: the partial is dropped and the body
 * is written from byte 0, never appended. Returns the file's sha256 and the claims' proofs, hashed
 * as the bytes arrive (a resumed prefix is read back once, before the request), so the caller need
 * not read the file again to verify it.
 */
export async function downloadWhole(
  ctx: FetchContext,
  key: string,
  size: number,
  partial: string,
  claims: ClaimedRange[] = [],
): Promise<Proof> {
  const metaPath = `${partial}.json`;
  return withRetry(
    ctx,
    key,
    async () => {
      let meta: PartialMeta | undefined;
      try {
        meta = JSON.parse(await readFile(metaPath, 'utf8')) as PartialMeta;
      } catch {
        meta = undefined;
      }
      let have = 0;
      try {
        have = (await stat(partial)).size;
      } catch {
        have = 0;
      }
      if (!meta?.etag || meta.size !== size || have > size) have = 0; // nothing to resume from safely
      let proof = new FileProver(claims);
      if (have > 0) await readChunks(partial, (chunk, pos) => proof.feed(chunk, pos), { end: have });
      if (have === size && size > 0) return proof.result();
      // Opened before the request, and nothing awaited between the answer and reading its body: a
      // body that errors while unread loses its buffered bytes, and with them what we could resume.
      const fh = await open(partial, have > 0 ? 'r+' : 'w');
      try {
        const r = await ctx.source.get(key, {
          ...(have > 0 ? { range: [have, size] as [number, number], ifRange: meta!.etag! } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        if (r.status === 206) {
          const cr = r.contentRange;
          if (
            have === 0 ||
            !cr ||
            cr.start !== have ||
            cr.end !== size ||
            (cr.total !== undefined && cr.total !== size)
          ) {
            discard(r);
            ftruncateSync(fh.fd, 0);
            throw new TransientError('bad-content-range', `${key}: wrong Content-Range on resume; starting over`);
          }
          if (r.etag !== meta?.etag) {
            discard(r);
            ftruncateSync(fh.fd, 0);
            throw new TransientError(
              'changed',
              `${key}: ETag changed since the partial download (${meta?.etag} -> ${r.etag}); starting over`,
            );
          }
          await streamInto(ctx, r.body, fh, have, size - have, key, (chunk, pos) => proof.feed(chunk, pos));
        } else {
          if (r.size !== undefined && r.size !== size) {
            discard(r);
            throw new VerificationError(
              `${key} at ${ctx.source.description} is ${r.size} bytes; the manifest says ${size}`,
            );
          }
          // A whole body (first try, or the answer to a resume whose object changed): from byte 0, and
          // the old bytes go first so nothing of them can be mistaken for this object's.
          ftruncateSync(fh.fd, 0);
          writeFileSync(metaPath, JSON.stringify({ ...(r.etag ? { etag: r.etag } : {}), size } satisfies PartialMeta));
          proof = new FileProver(claims);
          await streamInto(ctx, r.body, fh, 0, size, key, (chunk, pos) => proof.feed(chunk, pos));
        }
      } finally {
        await fh.close();
      }
      return proof.result();
    },
    () => true,
  );
}

export async function dropPartial(partial: string): Promise<void> {
  await rm(partial, { force: true });
  await rm(`${partial}.json`, { force: true });
}
