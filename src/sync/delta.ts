// Tensor-level delta for safetensors files: the new file is assembled from tensors this device
// already holds (any file, any offset, matched by sha256) plus Range requests for the rest, with
// near ranges coalesced so a few small local tensors never split one request into many.
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { type FetchContext, fetchRange } from './fetch.ts';
import { crashPoint } from './crash.ts';
import { listDir, paths } from './local-store.ts';
import { parseSafetensors } from '../safetensors.ts';
import { dataStart, type SafetensorsIndex } from './safetensors.ts';

/** Tensor bytes this device holds, proven by hashing: sha256 -> where. */
export type LocalTensors = Map<string, { path: string; start: number; end: number }>;

export interface ProvenIndex { tensors: { sha256: string; start: number; end: number }[] }

/** Builds the local tensor index from the proven index of every blob in the cache. */
export async function loadLocalTensors(dir: string): Promise<LocalTensors> {
  const p = paths(dir);
  const out: LocalTensors = new Map();
  for (const name of await listDir(p.indexes)) {
    const sha = name.replace(/\.json$/, '');
    try {
      const idx = JSON.parse(await readFile(p.index(sha), 'utf8')) as ProvenIndex;
      for (const t of idx.tensors) if (!out.has(t.sha256)) out.set(t.sha256, { path: p.blob(sha), start: t.start, end: t.end });
    } catch { /* an unreadable local index only costs bytes */ }
  }
  return out;
}

export interface DeltaPlan {
  /** Byte ranges to fetch, [start, endExclusive), coalesced, in file order (the header first). */
  remote: [number, number][];
  /** Tensors to copy from local blobs. */
  local: { start: number; end: number; from: { path: string; start: number } }[];
  remoteBytes: number;
  localBytes: number;
}

/**
 * Splits [0, size) into local copies and remote ranges. Remote segments closer than `gap` bytes are
 * merged (the local bytes between them are fetched instead): one request is cheaper than two when the
 * gap is small.
 */
export function planDelta(index: SafetensorsIndex, size: number, local: LocalTensors, gap = 64 * 1024): DeltaPlan {
  type Seg = { start: number; end: number; from?: { path: string; start: number } };
  const segs: Seg[] = [{ start: 0, end: dataStart(index) }];
  let at = dataStart(index);
  for (const t of index.tensors) {
    if (t.start > at) segs.push({ start: at, end: t.start });
    const have = local.get(t.sha256);
    if (t.end > t.start) segs.push(have && have.end - have.start === t.end - t.start ? { start: t.start, end: t.end, from: { path: have.path, start: have.start } } : { start: t.start, end: t.end });
    at = t.end;
  }
  if (at < size) segs.push({ start: at, end: size });
  const remote: [number, number][] = [];
  const localOut: DeltaPlan['local'] = [];
  let pending: Seg[] = []; // local segments after the last remote range, merged if the next remote one is near
  for (const s of segs) {
    if (s.from) { pending.push(s); continue; }
    const last = remote[remote.length - 1];
    if (last && s.start - last[1] < gap) {
      last[1] = s.end;
    } else {
      localOut.push(...pending.map((p) => ({ start: p.start, end: p.end, from: p.from! })));
      remote.push([s.start, s.end]);
    }
    pending = [];
  }
  localOut.push(...pending.map((p) => ({ start: p.start, end: p.end, from: p.from! })));
  const remoteBytes = remote.reduce((n, [a, b]) => n + b - a, 0);
  return { remote, local: localOut, remoteBytes, localBytes: size - remoteBytes };
}

/** Why a delta could not be used; the caller downloads the file whole instead. */
export class DeltaUnusable extends Error {
  override name = 'DeltaUnusable';
}

/**
 * Assembles the file into `partial`. Checks the fetched header against the index before copying
 * anything (an index that disagrees with the real header is dropped early). Range failures that
 * retrying cannot fix (200 for a Range, a changed object) become DeltaUnusable.
 */
export async function assembleDelta(ctx: FetchContext, key: string, size: number, index: SafetensorsIndex, plan: DeltaPlan, partial: string, concurrency = 4): Promise<void> {
  const fh = await open(partial, 'w+'); // read back: the header is checked against the index
  try {
    await fh.truncate(size);
    const [first, ...rest] = plan.remote;
    let etag: string | undefined;
    if (first) {
      etag = (await wrap(fetchRange(ctx, key, first, { size }, fh))).etag;
      const header = Buffer.alloc(Math.min(dataStart(index), first[1]));
      await fh.read(header, 0, header.length, 0);
      checkHeader(key, header, size, index);
      crashPoint('after-header-fetch');
    }
    for (const l of plan.local) await copyRange(l.from.path, l.from.start, fh, l.start, l.end - l.start);
    const queue = [...rest];
    const worker = async () => {
      for (let r = queue.shift(); r; r = queue.shift()) await wrap(fetchRange(ctx, key, r, { size, ...(etag ? { etag } : {}) }, fh));
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  } finally {
    await fh.close();
  }
}

/** The strict parser (src/safetensors.ts) over the fetched header bytes, then a comparison with the index. */
function checkHeader(key: string, header: Buffer, size: number, index: SafetensorsIndex): void {
  let parsed;
  try { parsed = parseSafetensors(key, header, { fileSize: size }); } catch (e) { throw new DeltaUnusable(`the file's header does not parse: ${(e as Error).message}`); }
  const claimed = new Map(index.tensors.map((t) => [t.start, t.end]));
  if (parsed.headerSize !== index.headerSize || parsed.tensors.length !== index.tensors.length || parsed.tensors.some((t) => claimed.get(t.start) !== t.end)) {
    throw new DeltaUnusable('the index does not match the file header');
  }
}

async function wrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const kind = (e as { kind?: string }).kind;
    if (kind === 'range-ignored' || kind === 'changed') throw new DeltaUnusable((e as Error).message);
    throw e;
  }
}

async function copyRange(from: string, fromStart: number, to: FileHandle, toStart: number, length: number): Promise<void> {
  const src = await open(from, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(length, 4 << 20));
    for (let done = 0; done < length;) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, length - done), fromStart + done);
      if (bytesRead === 0) throw new DeltaUnusable(`local blob ${from} is shorter than its index says`);
      await to.write(buf, 0, bytesRead, toStart + done);
      done += bytesRead;
    }
  } finally {
    await src.close();
  }
}
