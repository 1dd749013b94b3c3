// Fetching versions into the cache: each file's verified bytes into blobs/ (already cached, assembled
// from a tensor-level delta, or downloaded whole, resumably), then the version folder built from them.
// Nothing here activates a version; syncEnvironment does that, and a gateway (fetchVersion) loads
// versions itself.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, link, mkdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ManifestFile } from '../manifest/manifest.ts';
import { blobKey, indexKey } from '../store/keys.ts';
import { NotFoundError } from '../lib/errors.ts';
import { fsyncDir, fsyncFile, writeFileAtomic } from '../lib/fs-atomic.ts';
import { crashPoint } from './crash.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import {
  assembleDelta,
  DeltaUnusable,
  loadLocalTensors,
  planDelta,
  type LocalTensors,
  type ProvenIndex,
} from './delta.ts';
import { DiskSpaceError, isOperationalError, NetworkError, VerificationError } from './errors.ts';
import { downloadWhole, dropPartial, type FetchContext, fetchSmall } from './fetch.ts';
import { ensureDirs, exists, lock, paths, readState, trash } from './local-store.ts';
import { type Proof, proveFile, RangeProver } from './prove.ts';
import { readChunks } from '../lib/hash.ts';
import { checkIndex, type DeviceIndex } from './index-check.ts';
import { checkFile } from './targets.ts';
import type { CacheOptions, FetchVersionOptions, SyncEvent } from './types.ts';
import { formatMiB } from '../lib/format.ts';

/** Progress events are emitted at most this often. */
const PROGRESS_EVERY_MS = 100;

/**
 * Brings one version's verified files into <dir>/models/<model>/versions/<version>/ and returns that
 * folder, without activating it or collecting garbage: for a gateway, which loads versions itself.
 * The same cache, deltas, retries, resume and verification as syncEnvironment.
 */
export async function fetchVersion(o: FetchVersionOptions): Promise<string> {
  for (const f of o.files) checkFile(o.model, o.version, f);
  await mkdir(o.dir, { recursive: true });
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    await readState(o.dir); // refuses, as syncEnvironment does, a cache whose state.json cannot be read
    return await new VersionFetcher(o, o.onEvent ?? (() => {})).fetchVersion(o.model, o.version, o.files);
  } finally {
    await release();
  }
}

/** One run's fetching: the cache of <dir>, the source, the byte counts and the tensors held locally. */
export class VersionFetcher {
  private readonly o: CacheOptions;
  private readonly emit: (e: SyncEvent) => void;
  private readonly ctx: FetchContext;
  private readonly p: ReturnType<typeof paths>;
  private localTensors?: LocalTensors;
  private bytesReused = 0;
  /** Bytes this run still expects to fetch, for progress events. */
  bytesPlanned = 0;
  private lastProgress = 0;

  constructor(o: CacheOptions, emit: (e: SyncEvent) => void) {
    this.o = o;
    this.emit = emit;
    this.p = paths(o.dir);
    this.ctx = {
      source: o.source,
      retry: o.retry ?? SYNC_DEFAULTS.retry,
      ...(o.signal ? { signal: o.signal } : {}),
      stats: { bytesFetched: 0, requests: 0, retries: 0 },
      onRetry: (info) => emit({ type: 'retry', ...info }),
      onBytes: () => {
        const now = Date.now();
        if (now - this.lastProgress >= PROGRESS_EVERY_MS) {
          this.lastProgress = now;
          emit({ type: 'progress', bytesFetched: this.ctx.stats.bytesFetched, bytesPlanned: this.bytesPlanned });
        }
      },
    };
  }

  /** What this run fetched, reused from local tensors, and how many requests and retries it took. */
  stats(): { bytesFetched: number; bytesReused: number; requests: number; retries: number } {
    const s = this.ctx.stats;
    return { bytesFetched: s.bytesFetched, bytesReused: this.bytesReused, requests: s.requests, retries: s.retries };
  }

  async fetchVersion(model: string, version: string, files: ManifestFile[]): Promise<string> {
    if (!(await this.versionIntact(model, version, files))) {
      const missing = await this.missingFiles(files);
      this.bytesPlanned = missing.reduce((n, f) => n + f.size, 0);
      this.emit({
        type: 'plan',
        model,
        to: version,
        role: 'champion',
        files: missing.length,
        bytesToFetch: this.bytesPlanned,
      });
      await this.checkDiskSpace(missing);
      for (const f of files) await this.ensureBlob(model, f);
      await this.materialize(model, version, files);
    }
    return this.p.version(model, version);
  }

  /** Every file of the version folder present with its size (blobs are verified on entry), and its file list. */
  async versionIntact(model: string, version: string, files: ManifestFile[]): Promise<boolean> {
    for (const f of files) {
      try {
        if ((await stat(join(this.p.version(model, version), f.path))).size !== f.size) return false;
      } catch {
        return false;
      }
    }
    return exists(this.p.meta(model, version));
  }

  async missingFiles(files: ManifestFile[]): Promise<ManifestFile[]> {
    const out: ManifestFile[] = [];
    for (const f of files) if (!(await this.cached(f))) out.push(f);
    return out;
  }

  private async cached(f: ManifestFile): Promise<boolean> {
    try {
      return (await stat(this.p.blob(f.sha256))).size === f.size;
    } catch {
      return false;
    }
  }

  async checkDiskSpace(files: ManifestFile[]): Promise<void> {
    if (files.length === 0) return;
    let need = 0;
    for (const f of files) {
      let have = 0;
      try {
        have = (await stat(this.p.partial(f.sha256))).size;
      } catch {
        /* none */
      }
      need += Math.max(0, f.size - have);
    }
    const reserve = this.o.diskReserve ?? SYNC_DEFAULTS.diskReserve;
    const fs = await statfs(this.o.dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < need + reserve) {
      throw new DiskSpaceError(
        `not enough disk space in ${this.o.dir}: the update needs ${formatMiB(need)} plus ${formatMiB(reserve)} reserve, ${formatMiB(free)} is free. Nothing was downloaded; the active versions are unchanged.`,
      );
    }
  }

  /** Puts the file's verified bytes in the cache: cached, delta-assembled, or downloaded whole. */
  async ensureBlob(model: string, f: ManifestFile): Promise<void> {
    if (await this.cached(f)) {
      this.emit({
        type: 'file',
        model,
        path: f.path,
        sha256: f.sha256,
        how: 'cached',
        bytesFetched: 0,
        bytesReused: f.size,
      });
      return;
    }
    const key = blobKey(f.sha256);
    const partial = this.p.partial(f.sha256);
    const before = this.ctx.stats.bytesFetched;
    const index = f.index ? await this.fetchIndex(model, f) : undefined;
    // A partial left by an interrupted run may already be complete (crash after download, before commit).
    if (await this.tryCommit(f, partial, index)) {
      this.downloaded(model, f, before);
      return;
    }
    if (index && !(await exists(`${partial}.json`))) {
      this.localTensors ??= await loadLocalTensors(this.o.dir);
      const plan = planDelta(index, f.size, this.localTensors, this.o.coalesceGap ?? SYNC_DEFAULTS.coalesceGap);
      if (plan.localBytes > 0) {
        try {
          this.bytesPlanned -= plan.localBytes;
          if (
            await this.commitIfProven(
              f,
              partial,
              index,
              await assembleDelta(this.ctx, key, f.size, index, plan, partial),
            )
          ) {
            this.bytesReused += plan.localBytes;
            this.emit({
              type: 'file',
              model,
              path: f.path,
              sha256: f.sha256,
              how: 'delta',
              bytesFetched: this.ctx.stats.bytesFetched - before,
              bytesReused: plan.localBytes,
            });
            return;
          }
          this.emit({ type: 'fallback', model, path: f.path, reason: 'the assembled file failed its sha256 check' });
        } catch (e) {
          if (!(e instanceof DeltaUnusable) && !(e instanceof NetworkError)) throw e;
          this.emit({ type: 'fallback', model, path: f.path, reason: e.message });
        }
        this.bytesPlanned += plan.localBytes;
        await dropPartial(partial);
      }
    }
    // Whole download, resumable. A file that fails its sha256 is fetched once more from scratch
    // (bytes can be damaged in transit); failing twice, it is refused.
    for (let attempt = 1; ; attempt++) {
      if (
        await this.commitIfProven(
          f,
          partial,
          index,
          await downloadWhole(this.ctx, key, f.size, partial, index?.tensors ?? []),
        )
      )
        break;
      await dropPartial(partial);
      if (attempt >= 2)
        throw new VerificationError(
          `${model}: ${f.path} from ${this.o.source.description} does not match the manifest's sha256 ${f.sha256}; refused, the active version is unchanged`,
        );
      this.emit({
        type: 'fallback',
        model,
        path: f.path,
        reason: 'downloaded bytes failed the sha256 check; downloading again',
      });
    }
    this.downloaded(model, f, before);
  }

  /** The event for a file that came in whole; `before` is the fetched-bytes count when its fetch began. */
  private downloaded(model: string, f: ManifestFile, before: number): void {
    const bytesFetched = this.ctx.stats.bytesFetched - before;
    this.emit({ type: 'file', model, path: f.path, sha256: f.sha256, how: 'download', bytesFetched, bytesReused: 0 });
  }

  /**
   * The index object, or undefined when it is missing or unusable (it is only a hint): a store, network
   * or disk failure, or bytes that are not JSON. Any other throw is a bug and is not taken for a hint.
   */
  private async fetchIndex(model: string, f: ManifestFile): Promise<DeviceIndex | undefined> {
    try {
      const bytes = await fetchSmall(this.ctx, indexKey(f.sha256), this.o.maxIndexBytes ?? SYNC_DEFAULTS.maxIndexBytes);
      const checked = checkIndex(JSON.parse(bytes.toString('utf8')), f.size, f.sha256);
      if (checked.ok) return checked.index;
      this.emit({ type: 'fallback', model, path: f.path, reason: `the index object is unusable: ${checked.reason}` });
      return undefined;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      if (!(e instanceof SyntaxError) && !isOperationalError(e)) throw e;
      const reason =
        e instanceof NotFoundError ? 'no index object in the store' : `index unavailable: ${(e as Error).message}`;
      this.emit({ type: 'fallback', model, path: f.path, reason });
      return undefined;
    }
  }

  /**
   * If `partial` holds exactly the manifest's bytes, moves it into the cache (read-only) and records
   * the tensor ranges proven by the same read. Returns false, leaving the partial, otherwise.
   */
  private async tryCommit(f: ManifestFile, partial: string, index: DeviceIndex | undefined): Promise<boolean> {
    try {
      if ((await stat(partial)).size !== f.size) return false;
    } catch {
      return false;
    }
    return this.commitIfProven(f, partial, index, await proveFile(partial, index?.tensors ?? []));
  }

  /** Commits the partial when its proof (sha256 and size) matches the manifest; false leaves it where it is. */
  private async commitIfProven(
    f: ManifestFile,
    partial: string,
    index: DeviceIndex | undefined,
    proof: Proof,
  ): Promise<boolean> {
    if (proof.sha256 !== f.sha256 || proof.size !== f.size) return false;
    await this.commit(f, partial, index, proof.proven);
    return true;
  }

  /** Moves a verified partial into the cache; `proven[i]` says whether index tensor i was proven by hashing. */
  private async commit(
    f: ManifestFile,
    partial: string,
    index: DeviceIndex | undefined,
    proven: boolean[],
  ): Promise<void> {
    const tensors = index?.tensors ?? [];
    let record: ProvenIndex | undefined;
    crashPoint('after-staging-verify');
    if (index) {
      const ranges = tensors.filter((_, i) => proven[i]).map((t) => ({ sha256: t.sha256, start: t.start, end: t.end }));
      // The header too, when the index names its digest and the verified bytes have it: the next
      // version's delta copies an unchanged header instead of fetching it.
      const header = index.regions[0];
      if (header?.sha256) {
        const prover = new RangeProver([{ start: header.start, end: header.end, sha256: header.sha256 }]);
        await readChunks(partial, (chunk, pos) => prover.feed(chunk, pos), { end: header.end });
        if (prover.result()[0]) ranges.push({ sha256: header.sha256, start: header.start, end: header.end });
      }
      record = { tensors: ranges };
      await writeFileAtomic(this.p.index(f.sha256), JSON.stringify(record));
    }
    // The cache trusts a blob by its size from here on (it was verified once): its bytes must be on the
    // disk before its name is, or a power cut could leave a right-sized blob of unwritten blocks.
    await fsyncFile(partial);
    await chmod(partial, 0o444);
    await rename(partial, this.p.blob(f.sha256));
    await fsyncDir(this.p.blobs);
    await rm(`${partial}.json`, { force: true });
    if (this.localTensors && index) {
      for (const t of record?.tensors ?? [])
        if (!this.localTensors.has(t.sha256))
          this.localTensors.set(t.sha256, { path: this.p.blob(f.sha256), start: t.start, end: t.end });
    }
  }

  /** versions/<v>/ built in a temp folder from hardlinks (copies where links fail), then renamed. */
  async materialize(model: string, version: string, files: ManifestFile[]): Promise<void> {
    const final = this.p.version(model, version);
    if (await this.versionIntact(model, version, files)) return;
    const versions = this.p.versions(model);
    await mkdir(versions, { recursive: true });
    await mkdir(dirname(this.p.meta(model, version)), { recursive: true });
    const tmp = join(versions, `.tmp-${version}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    for (const f of files) {
      const dest = join(tmp, ...f.path.split('/'));
      await mkdir(dirname(dest), { recursive: true });
      try {
        await link(this.p.blob(f.sha256), dest);
      } catch {
        await copyFile(this.p.blob(f.sha256), dest);
        await fsyncFile(dest);
        await chmod(dest, 0o444);
      }
    }
    await writeFileAtomic(this.p.meta(model, version), JSON.stringify({ files }));
    if (await exists(final)) await trash(final); // a damaged copy of this version; never the active one
    await rename(tmp, final);
    await fsyncDir(versions);
  }
}
