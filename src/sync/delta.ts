// Tensor-level delta for indexed files (safetensors, GGUF): the new file is assembled from tensors this device
// already holds (any file, any offset, matched by sha256) plus Range requests for the rest, with
// near ranges coalesced so a few small local tensors never split one request into many.
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { type FetchContext, fetchRange } from './fetch.ts';
import { crashPoint } from './crash.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { listDir, paths } from './local-store.ts';
import { FileProver, type Proof } from './prove.ts';
import { HASH_BUFFER_BYTES } from '../lib/hash.ts';
import { isUserError } from '../lib/errors.ts';
import { TransientError } from './errors.ts';
import { parseSafetensors } from '../formats/safetensors.ts';
import { parseGguf } from '../formats/gguf.ts';
import type { DeviceIndex } from './index-check.ts';

/** Tensor bytes this device holds, proven by hashing: sha256 -> where. */
export type LocalTensors = Map<string, { path: string; start: number; end: number }>;

/** Read and write size of the assembly pass (src/lib/hash.ts measured 8 MiB fastest for hashing). */
const COPY_BUFFER_BYTES = HASH_BUFFER_BYTES;

export interface ProvenIndex {
  tensors: { sha256: string; start: number; end: number }[];
}

/** Builds the local tensor index from the proven index of every blob in the cache. */
export async function loadLocalTensors(dir: string): Promise<LocalTensors> {
  const p = paths(dir);
  const out: LocalTensors = new Map();
  for (const name of await listDir(p.indexes)) {
    const sha = name.replace(/\.json$/, '');
    try {
      const idx = JSON.parse(await readFile(p.index(sha), 'utf8')) as ProvenIndex;
      for (const t of idx.tensors)
        if (!out.has(t.sha256)) out.set(t.sha256, { path: p.blob(sha), start: t.start, end: t.end });
    } catch {
      /* an unreadable local index only costs bytes */
    }
  }
  return out;
}

export interface DeltaPlan {
  /** Byte ranges to fetch, [start, endExclusive), coalesced, in file order (the header first). */
  remote: [number, number][];
  /** Tensors to copy from local blobs. */
  local: { start: number; end: number; from: { path: string; start: number } }[];
  /** Padding the index says is zeros: neither fetched nor copied (the staging file starts as zeros). */
  zero: { start: number; end: number }[];
  remoteBytes: number;
  /** Bytes copied from local tensors. */
  localBytes: number;
  zeroBytes: number;
}

/**
 * Splits [0, size) into local copies and remote ranges. Remote segments closer than `gap` bytes are
 * merged (the local bytes between them are fetched instead): one request is cheaper than two when the
 * gap is small.
 */
export function planDelta(
  index: DeviceIndex,
  size: number,
  local: LocalTensors,
  gap: number = SYNC_DEFAULTS.coalesceGap,
): DeltaPlan {
  type Seg = { start: number; end: number; from?: { path: string; start: number }; zero?: true };
  // Regions that are not tensors (header, GGUF metadata, padding) are fetched, except padding the
  // index says is zeros (the staging file starts as zeros, and the whole-file sha256 checks the claim)
  // and a header this device already holds (by its sha256). The header region comes first, so it is
  // either local or the start of the first remote range.
  const segs: Seg[] = [
    ...index.regions.map((r): Seg => {
      if (r.zero) return { start: r.start, end: r.end, zero: true };
      // The header, when this device holds the same bytes (an update that changed tensors only).
      const have = r.sha256 ? local.get(r.sha256) : undefined;
      return have && have.end - have.start === r.end - r.start
        ? { start: r.start, end: r.end, from: { path: have.path, start: have.start } }
        : { start: r.start, end: r.end };
    }),
    ...index.tensors.map((t): Seg => {
      const have = local.get(t.sha256);
      return have && have.end - have.start === t.end - t.start && t.end > t.start
        ? { start: t.start, end: t.end, from: { path: have.path, start: have.start } }
        : { start: t.start, end: t.end };
    }),
  ]
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of segs) {
    if (s.start !== at) throw new Error(`index does not tile the file: a region starts at ${s.start}, expected ${at}`);
    at = s.end;
  }
  if (at !== size) throw new Error(`index covers ${at} of ${size} bytes`);
  const remote: [number, number][] = [];
  const localOut: DeltaPlan['local'] = [];
  const zero: DeltaPlan['zero'] = [];
  const keep = (p: Seg) =>
    p.from ? localOut.push({ start: p.start, end: p.end, from: p.from }) : zero.push({ start: p.start, end: p.end });
  let pending: Seg[] = []; // local and zero segments after the last remote range, merged if the next remote one is near
  for (const s of segs) {
    if (s.from || s.zero) {
      pending.push(s);
      continue;
    }
    const last = remote[remote.length - 1];
    if (last && s.start - last[1] < gap) {
      last[1] = s.end;
    } else {
      pending.forEach(keep);
      remote.push([s.start, s.end]);
    }
    pending = [];
  }
  pending.forEach(keep);
  const remoteBytes = remote.reduce((n, [a, b]) => n + b - a, 0);
  const zeroBytes = zero.reduce((n, z) => n + z.end - z.start, 0);
  return { remote, local: localOut, zero, remoteBytes, localBytes: size - remoteBytes - zeroBytes, zeroBytes };
}

/** Why a delta could not be used; the caller downloads the file whole instead. */
export class DeltaUnusable extends Error {
  override name = 'DeltaUnusable';
}

/**
 * Assembles the file into `partial` and returns its sha256, with the fetched tensors proven against the
 * index (copied tensors count as proven: they came from proven local bytes, and if the whole file matches
 * its sha256 they sit at the right offsets). The fetched header is checked against the index before
 * anything is copied (an index that disagrees with the real header is dropped early). The other ranges
 * download in the background while one in-order pass copies local tensors and hashes every byte, reading
 * a fetched range back only once it has landed: copying, hashing and the network overlap, and the file is
 * read once, not copied and then read again to hash. Range failures that retrying cannot fix (200 for a
 * Range, a changed object) become DeltaUnusable.
 */
export async function assembleDelta(
  ctx: FetchContext,
  key: string,
  size: number,
  index: DeviceIndex,
  plan: DeltaPlan,
  partial: string,
  opts: { concurrency?: number; chunkBytes?: number } = {},
): Promise<Proof> {
  const concurrency = Math.max(1, opts.concurrency ?? SYNC_DEFAULTS.deltaConcurrency);
  const fh = await open(partial, 'w+'); // read back: fetched bytes are hashed from the file
  const landed = new Map<number, Promise<void>>(); // remote range start -> its download
  const workers: Promise<void>[] = [];
  let stop = false;
  // Once the delta fails, fetches still running (and their retries) are cancelled, so the fallback to
  // a whole download starts at once; the caller's signal cancels them too.
  const cancel = new AbortController();
  const onCallerAbort = () => cancel.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const background: FetchContext = { ...ctx, signal: cancel.signal }; // same stats, own signal
  try {
    await fh.truncate(size);
    const [first, ...rest] = plan.remote;
    let etag: string | undefined;
    const localHeader = plan.local.find((l) => l.start === 0 && index.headerEnd > 0);
    if (localHeader) {
      // The header is copied from a local blob and checked before anything is fetched.
      await copyLocal(localHeader.from.path, localHeader.from.start, index.headerEnd, fh);
      await checkHeader(key, fh, size, index);
    }
    if (first) {
      etag = (await wrap(fetchRange(ctx, key, first, { size }, fh))).etag;
      if (!localHeader) await checkHeader(key, fh, size, index);
      crashPoint('after-header-fetch');
      landed.set(first[0], Promise.resolve());
    }
    const queue = rest.map((r) => ({ r, done: Promise.withResolvers<void>() }));
    for (const q of queue) {
      q.done.promise.catch(() => {}); // awaited by the pass in file order; a failure before then is not unhandled
      landed.set(q.r[0], q.done.promise);
    }
    const worker = async () => {
      for (let q = queue.shift(); q && !stop; q = queue.shift()) {
        try {
          await wrap(fetchRange(background, key, q.r, { size, ...(etag ? { etag } : {}) }, fh));
          q.done.resolve();
        } catch (e) {
          stop = true; // the pass stops at this range; later ones are not worth fetching
          q.done.reject(e);
        }
      }
    };
    for (let i = 0; i < Math.min(concurrency, queue.length); i++) workers.push(worker());

    const localStarts = new Set(plan.local.map((l) => l.start));
    const copied = index.tensors.map((t) => t.end > t.start && localStarts.has(t.start)); // by position: empty tensors may share a start
    const fetchedAt = copied.flatMap((c, i) => (c ? [] : [i]));
    const prover = new FileProver(fetchedAt.map((i) => index.tensors[i]!));
    const pieces: Piece[] = [
      ...plan.remote.map(([start, end]) => ({ start, end, ready: landed.get(start)! })),
      ...plan.local.map((l) => ({ start: l.start, end: l.end, from: l.from })),
      ...plan.zero.map((z) => ({ start: z.start, end: z.end, zero: true as const })),
    ].sort((x, y) => x.start - y.start);
    await assemblePass(
      fh,
      pieces,
      size,
      (chunk, position) => prover.feed(chunk, position),
      opts.chunkBytes ?? COPY_BUFFER_BYTES,
    );
    const proof = prover.result();
    const proven = copied.map(() => true);
    fetchedAt.forEach((i, k) => {
      proven[i] = proof.proven[k] === true;
    });
    return { ...proof, proven };
  } finally {
    stop = true;
    cancel.abort();
    ctx.signal?.removeEventListener('abort', onCallerAbort);
    await Promise.allSettled(workers); // no write may land after the file is closed
    await fh.close();
  }
}

/**
 * The format's strict parser over the fetched header bytes (read back from `fh`, the staging file), then a comparison with the index: the same header length and the
 * same tensor ranges. The parser's refusal (a UserError) makes the delta unusable; any other throw is a bug.
 */
async function checkHeader(key: string, fh: FileHandle, size: number, index: DeviceIndex): Promise<void> {
  let parsed: { headerEnd: number; ranges: { start: number; end: number }[] };
  try {
    // headerEnd is bounded by the index check (MAX_INDEX_HEADER_BYTES), so this allocation is too.
    const header = Buffer.alloc(index.headerEnd);
    await fh.read(header, 0, header.length, 0);
    if (index.format === 'safetensors') {
      const h = parseSafetensors(key, header, { fileSize: size });
      parsed = { headerEnd: h.dataStart, ranges: h.tensors };
    } else {
      const h = parseGguf(header, size, key);
      parsed = { headerEnd: h.dataStart, ranges: h.tensors.map((t) => ({ start: t.offset, end: t.offset + t.size })) };
    }
  } catch (e) {
    if (!isUserError(e)) throw e;
    throw new DeltaUnusable(`the file's header does not parse: ${e.message}`);
  }
  const claimed = new Map(index.tensors.map((t) => [t.start, t.end]));
  if (
    parsed.headerEnd !== index.headerEnd ||
    parsed.ranges.length !== index.tensors.length ||
    parsed.ranges.some((t) => claimed.get(t.start) !== t.end)
  ) {
    throw new DeltaUnusable('the index does not match the file header');
  }
}

/** Copies `length` bytes at `start` of a local blob to the start of `to` (the header, before the pass). */
async function copyLocal(path: string, start: number, length: number, to: FileHandle): Promise<void> {
  const from = await open(path, 'r').catch((e: unknown) => {
    throw new DeltaUnusable(`local blob ${path} cannot be read: ${(e as Error).message}`);
  });
  try {
    const buf = Buffer.allocUnsafe(Math.min(length, COPY_BUFFER_BYTES));
    for (let done = 0; done < length; ) {
      const { bytesRead } = await from.read(buf, 0, Math.min(buf.length, length - done), start + done);
      if (bytesRead === 0) throw new DeltaUnusable(`local blob ${path} is shorter than its index says`);
      for (let w = 0; w < bytesRead; ) w += (await to.write(buf, w, bytesRead - w, done + w)).bytesWritten;
      done += bytesRead;
    }
  } finally {
    await from.close();
  }
}

async function wrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const code = e instanceof TransientError ? e.code : undefined;
    if (code === 'range-ignored' || code === 'changed') throw new DeltaUnusable((e as Error).message);
    throw e;
  }
}

/** A stretch of the file: copied from a local blob (`from`), fetched (readable once `ready` settles), or zeros. */
type Piece = { start: number; end: number } & (
  | { from: { path: string; start: number }; ready?: undefined; zero?: undefined }
  | { from?: undefined; ready: Promise<void>; zero?: undefined }
  | { from?: undefined; ready?: undefined; zero: true }
);

/**
 * One in-order pass over the file: local pieces are read from their blob and written into `to`, fetched
 * pieces are read back from `to` once they have landed; every byte goes to `feed` in file order. Two
 * buffers, so the next read and the last write run on libuv's threads while this one hashes: I/O and
 * hashing overlap instead of taking turns.
 */
async function assemblePass(
  to: FileHandle,
  pieces: Piece[],
  size: number,
  feed: (chunk: Buffer, position: number) => void,
  chunkBytes: number,
): Promise<void> {
  const chunks: { piece: Piece; offset: number; length: number }[] = [];
  let at = 0;
  for (const piece of pieces) {
    if (piece.start !== at)
      throw new Error(`delta plan does not tile the file: a piece starts at ${piece.start}, expected ${at}`);
    for (let o = 0; o < piece.end - piece.start; o += chunkBytes)
      chunks.push({ piece, offset: o, length: Math.min(chunkBytes, piece.end - piece.start - o) });
    at = piece.end;
  }
  if (at !== size) throw new Error(`delta plan covers ${at} of ${size} bytes`);
  const buffers = [Buffer.allocUnsafe(chunkBytes), Buffer.allocUnsafe(chunkBytes)] as const;
  const sources = new Map<string, FileHandle>();
  const read = async ({ piece, offset, length }: (typeof chunks)[number], buf: Buffer): Promise<Buffer> => {
    if (piece.zero) return buf.fill(0, 0, length).subarray(0, length); // already zeros in `to` (truncate)
    let fh = to;
    let pos = piece.start + offset;
    if (piece.from) {
      const path = piece.from.path;
      fh =
        sources.get(path) ??
        (await open(path, 'r').catch((e: unknown) => {
          throw new DeltaUnusable(`local blob ${path} cannot be read: ${(e as Error).message}`);
        }));
      sources.set(piece.from.path, fh);
      pos = piece.from.start + offset;
    } else {
      await piece.ready;
    }
    for (let got = 0; got < length; ) {
      const { bytesRead } = await fh.read(buf, got, length - got, pos + got);
      if (bytesRead === 0)
        throw piece.from
          ? new DeltaUnusable(`local blob ${piece.from.path} is shorter than its index says`)
          : new Error(`staging file ended at ${pos + got}, inside a range already written`);
      got += bytesRead;
    }
    return buf.subarray(0, length);
  };
  const write = async (chunk: Buffer, position: number): Promise<void> => {
    for (let done = 0; done < chunk.length; )
      done += (await to.write(chunk, done, chunk.length - done, position + done)).bytesWritten;
  };
  let next: Promise<Buffer> | undefined = chunks[0] ? read(chunks[0], buffers[0]) : undefined;
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let i = 0; i < chunks.length; i++) {
      const chunk = await next!;
      await writing; // frees the other buffer for the next read
      const following = chunks[i + 1];
      next = following ? read(following, buffers[(i + 1) % 2]!) : undefined;
      next?.catch(() => {}); // awaited in the next round; a failure while this round runs is not unhandled
      const { piece, offset } = chunks[i]!;
      feed(chunk, piece.start + offset);
      if (piece.from) {
        writing = write(chunk, piece.start + offset);
        writing.catch(() => {});
      }
    }
    await writing;
  } finally {
    await Promise.allSettled([next, writing]); // nothing may touch a handle after it closes
    for (const fh of sources.values()) await fh.close();
  }
}
