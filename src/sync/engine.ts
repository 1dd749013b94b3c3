// syncEnvironment: make <dir> run what the manifest says for one environment, fetching as few bytes
// as possible, activating only verified bytes, and never losing the last good version.
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, link, mkdir, readFile, rename, rm, stat, statfs, symlink, unlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { environmentSlice, type Manifest, type ManifestFile } from '../manifest/manifest.ts';
import { blobKey, indexKey } from '../store/keys.ts';
import { UserError, NotFoundError } from '../lib/errors.ts';
import { crashPoint } from './crash.ts';
import { assembleDelta, DeltaUnusable, loadLocalTensors, planDelta, type LocalTensors, type ProvenIndex } from './delta.ts';
import { DiskSpaceError, NetworkError, VerificationError } from './errors.ts';
import { DEFAULT_RETRY, downloadWhole, dropPartial, type FetchContext, fetchSmall, type RetryPolicy } from './fetch.ts';
import { fsyncDir, fsyncFile, writeFileAtomic } from '../lib/fs-atomic.ts';
import { activeVersion, deviceKeyOf, ensureDirs, exists, listDir, lock, paths, readState, type SyncState, writeState } from './local-store.ts';
import { type Proof, proveFile } from './prove.ts';
import { pickVersion } from './device-routing.ts';
import { type SafetensorsIndex, validIndex } from './safetensors-index.ts';
import type { BlobSource } from './source.ts';

export type SyncEvent =
  | { type: 'plan'; model: string; from?: string; to: string; role: 'champion' | 'canary'; files: number; bytesToFetch: number }
  | { type: 'file'; model: string; path: string; sha256: string; how: 'cached' | 'delta' | 'download'; bytesFetched: number; bytesReused: number }
  | { type: 'progress'; bytesFetched: number; bytesPlanned: number }
  | { type: 'retry'; what: string; attempt: number; error: string; delayMs: number }
  | { type: 'fallback'; model: string; path: string; reason: string }
  | { type: 'activated'; model: string; version: string; previous?: string }
  | { type: 'rolled-back'; model: string; version: string; restored?: string; error: string }
  | { type: 'gc'; versionsRemoved: string[]; blobsRemoved: number; bytesFreed: number }
  | { type: 'warning'; message: string }
  | { type: 'error'; model: string; message: string };

export interface SyncOptions {
  manifest: Manifest;
  environment: string;
  dir: string;
  source: BlobSource;
  /** Stable key for canary routing; defaults to a random key kept in <dir>/device-key. */
  deviceKey?: string;
  /** Opt in to canaries. */
  canary?: boolean;
  /** Versions kept per model, the active one included (default 2: instant local rollback). */
  keepVersions?: number;
  onEvent?: (e: SyncEvent) => void;
  signal?: AbortSignal;
  /** Load the new version; a throw rolls `current` back to the previous version. */
  loadHook?: (model: string, version: string, folder: string) => void | Promise<void>;
  retry?: RetryPolicy;
  /** Remote ranges closer than this are fetched as one (default 64 KiB). */
  coalesceGap?: number;
  /** Free space to leave on the disk after the download (default 64 MiB). */
  diskReserve?: number;
  /** Largest index object accepted (default 16 MiB). */
  maxIndexBytes?: number;
}

/** What fetchVersion needs: where the cache is and where bytes come from, no environment or activation. */
export type FetchVersionOptions = Pick<SyncOptions, 'dir' | 'source' | 'onEvent' | 'signal' | 'retry' | 'coalesceGap' | 'diskReserve' | 'maxIndexBytes'> & {
  model: string;
  version: string;
  files: ManifestFile[];
};

export interface ModelOutcome { model: string; version: string; role: 'champion' | 'canary'; previous?: string; changed: boolean; error?: string }
export interface SyncResult { models: ModelOutcome[]; changed: boolean; bytesFetched: number; bytesReused: number; requests: number; retries: number }

interface Target { model: string; version: string; role: 'champion' | 'canary'; files: ManifestFile[]; active?: string }

export async function syncEnvironment(o: SyncOptions): Promise<SyncResult> {
  const slice = environmentSlice(o.manifest, o.environment);
  const emit = o.onEvent ?? (() => {});
  await mkdir(o.dir, { recursive: true });
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    const { state, warning } = await readState(o.dir);
    if (warning) emit({ type: 'warning', message: warning });
    state.environment = o.environment;
    const deviceKey = o.deviceKey ?? (o.canary ? await deviceKeyOf(o.dir) : undefined);
    const targets: Target[] = [];
    for (const [model, d] of Object.entries(slice.environments[o.environment]!.models)) {
      const pick = pickVersion(d, { environment: o.environment, model, ...(deviceKey !== undefined ? { deviceKey } : {}), ...(o.canary ? { canary: true } : {}) });
      const files = slice.models[model]?.versions[pick.version]?.files;
      if (!files) throw new VerificationError(`manifest lists ${model}@${pick.version} in ${o.environment} without its files`);
      for (const f of files) checkFile(model, pick.version, f);
      const active = await activeVersion(o.dir, model);
      targets.push({ model, ...pick, files, ...(active ? { active } : {}) });
    }
    const s = new Syncer(o, emit, state);
    return await s.run(targets);
  } finally {
    await release();
  }
}

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
    const { state } = await readState(o.dir);
    return await new Syncer(o, o.onEvent ?? (() => {}), state).fetchVersion(o.model, o.version, o.files);
  } finally {
    await release();
  }
}

/**
 * Deletes from the cache every version not in `keep`, and the blobs no kept version uses: for a gateway,
 * which keeps what its current and previous manifests reference. A kept version's files count whether
 * or not its folder exists yet, so a fetch that failed halfway keeps its blobs and resumable partials.
 */
export async function pruneVersions(o: Pick<SyncOptions, 'dir' | 'onEvent'> & { keep: { model: string; version: string; files: ManifestFile[] }[] }): Promise<void> {
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    const keep = new Map<string, Set<string>>();
    const referenced = new Set<string>();
    for (const k of o.keep) {
      (keep.get(k.model) ?? keep.set(k.model, new Set()).get(k.model)!).add(k.version);
      for (const f of k.files) referenced.add(f.sha256);
    }
    await sweepCache(paths(o.dir), async (model, versions) => new Set(versions.filter((v) => keep.get(model)?.has(v))), referenced, o.onEvent ?? (() => {}));
  } finally {
    await release();
  }
}

const SHA = /^[0-9a-f]{64}$/;

/** A signed manifest is still checked for paths that would escape the version folder. */
function checkFile(model: string, version: string, f: ManifestFile): void {
  const bad = !f.path || f.path.startsWith('/') || f.path.includes('\\') || f.path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new VerificationError(`${model}@${version}: unsafe file path "${f.path}" in the manifest`);
  if (!SHA.test(f.sha256) || !Number.isSafeInteger(f.size) || f.size < 0) throw new VerificationError(`${model}@${version}: ${f.path} has no valid sha256/size in the manifest`);
  if (/[\\/]/.test(model) || model.startsWith('.') || /[\\/]/.test(version) || version.startsWith('.')) throw new VerificationError(`unsafe model or version name ${model}@${version}`);
}

/** What the Syncer uses of SyncOptions (fetchVersion passes no manifest or environment). */
type SyncerOptions = Omit<SyncOptions, 'manifest' | 'environment'>;

class Syncer {
  private readonly o: SyncerOptions;
  private readonly emit: (e: SyncEvent) => void;
  private readonly state: SyncState;
  private readonly ctx: FetchContext;
  private readonly p: ReturnType<typeof paths>;
  private localTensors?: LocalTensors;
  private bytesReused = 0;
  private bytesPlanned = 0;
  private lastProgress = 0;

  constructor(o: SyncerOptions, emit: (e: SyncEvent) => void, state: SyncState) {
    this.o = o;
    this.emit = emit;
    this.state = state;
    this.p = paths(o.dir);
    this.ctx = {
      source: o.source,
      retry: o.retry ?? DEFAULT_RETRY,
      ...(o.signal ? { signal: o.signal } : {}),
      stats: { bytesFetched: 0, requests: 0, retries: 0 },
      onRetry: (info) => emit({ type: 'retry', ...info }),
      onBytes: () => {
        const now = Date.now();
        if (now - this.lastProgress >= 100) {
          this.lastProgress = now;
          emit({ type: 'progress', bytesFetched: this.ctx.stats.bytesFetched, bytesPlanned: this.bytesPlanned });
        }
      },
    };
  }

  async run(targets: Target[]): Promise<SyncResult> {
    const outcomes: ModelOutcome[] = [];
    const errors: Error[] = [];
    // Plan: which files are missing from the cache, and is there room for them?
    const missing = new Map<string, ManifestFile>();
    const current = new Set<Target>();
    for (const t of targets) {
      if (await this.upToDate(t)) current.add(t);
      const needed = current.has(t) ? [] : await this.missingFiles(t.files);
      for (const f of needed) missing.set(f.sha256, f);
      this.emit({ type: 'plan', model: t.model, ...(t.active ? { from: t.active } : {}), to: t.version, role: t.role, files: needed.length, bytesToFetch: needed.reduce((n, f) => n + f.size, 0) });
    }
    this.bytesPlanned = [...missing.values()].reduce((n, f) => n + f.size, 0);
    await this.checkDiskSpace([...missing.values()]);

    for (const t of targets) {
      const outcome: ModelOutcome = { model: t.model, version: t.version, role: t.role, ...(t.active ? { previous: t.active } : {}), changed: false };
      try {
        if (!current.has(t)) {
          for (const f of t.files) await this.ensureBlob(t.model, f);
          await this.materialize(t);
          await this.activate(t);
          outcome.changed = true;
        }
        const ms = (this.state.models[t.model] ??= { history: [] });
        ms.active = t.version;
        ms.history = [t.version, ...ms.history.filter((v) => v !== t.version)].slice(0, 20);
        delete ms.lastError;
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        outcome.error = (e as Error).message;
        errors.push(e as Error);
        (this.state.models[t.model] ??= { history: [] }).lastError = outcome.error;
        this.emit({ type: 'error', model: t.model, message: outcome.error });
      }
      outcomes.push(outcome);
    }
    await writeState(this.o.dir, this.state);
    await this.gc(targets);
    if (errors.length) {
      // The most serious first: a refused verification outranks a network failure.
      const rank = (e: Error) => (e instanceof VerificationError ? 0 : e instanceof NetworkError ? 1 : 2);
      const worst = [...errors].sort((a, b) => rank(a) - rank(b))[0]!;
      if (worst instanceof UserError) throw worst;
      throw new UserError(worst.message, { cause: worst });
    }
    const stats = this.ctx.stats;
    return { models: outcomes, changed: outcomes.some((m) => m.changed), bytesFetched: stats.bytesFetched, bytesReused: this.bytesReused, requests: stats.requests, retries: stats.retries };
  }

  async fetchVersion(model: string, version: string, files: ManifestFile[]): Promise<string> {
    if (!(await this.versionIntact(model, version, files))) {
      const missing = await this.missingFiles(files);
      this.bytesPlanned = missing.reduce((n, f) => n + f.size, 0);
      this.emit({ type: 'plan', model, to: version, role: 'champion', files: missing.length, bytesToFetch: this.bytesPlanned });
      await this.checkDiskSpace(missing);
      for (const f of files) await this.ensureBlob(model, f);
      await this.materialize({ model, version, role: 'champion', files });
    }
    return this.p.version(model, version);
  }

  /** Active, and every file of the version folder present with its size (blobs are verified on entry). */
  private async upToDate(t: Target): Promise<boolean> {
    if (t.active !== t.version) return false;
    return this.versionIntact(t.model, t.version, t.files);
  }

  private async versionIntact(model: string, version: string, files: ManifestFile[]): Promise<boolean> {
    for (const f of files) {
      try {
        if ((await stat(join(this.p.version(model, version), f.path))).size !== f.size) return false;
      } catch {
        return false;
      }
    }
    return exists(this.p.meta(model, version));
  }

  private async missingFiles(files: ManifestFile[]): Promise<ManifestFile[]> {
    const out: ManifestFile[] = [];
    for (const f of files) if (!(await this.cached(f))) out.push(f);
    return out;
  }

  private async cached(f: ManifestFile): Promise<boolean> {
    try { return (await stat(this.p.blob(f.sha256))).size === f.size; } catch { return false; }
  }

  private async checkDiskSpace(files: ManifestFile[]): Promise<void> {
    if (files.length === 0) return;
    let need = 0;
    for (const f of files) {
      let have = 0;
      try { have = (await stat(this.p.partial(f.sha256))).size; } catch { /* none */ }
      need += Math.max(0, f.size - have);
    }
    const reserve = this.o.diskReserve ?? 64 << 20;
    const fs = await statfs(this.o.dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < need + reserve) {
      throw new DiskSpaceError(`not enough disk space in ${this.o.dir}: the update needs ${mib(need)} plus ${mib(reserve)} reserve, ${mib(free)} is free. Nothing was downloaded; the active versions are unchanged.`);
    }
  }

  /** Puts the file's verified bytes in the cache: cached, delta-assembled, or downloaded whole. */
  private async ensureBlob(model: string, f: ManifestFile): Promise<void> {
    if (await this.cached(f)) {
      this.emit({ type: 'file', model, path: f.path, sha256: f.sha256, how: 'cached', bytesFetched: 0, bytesReused: f.size });
      return;
    }
    const key = blobKey(f.sha256);
    const partial = this.p.partial(f.sha256);
    const before = this.ctx.stats.bytesFetched;
    const index = f.index ? await this.fetchIndex(model, f) : undefined;
    // A partial left by an interrupted run may already be complete (crash after download, before commit).
    if (await this.tryCommit(f, partial, index)) {
      this.emit({ type: 'file', model, path: f.path, sha256: f.sha256, how: 'download', bytesFetched: this.ctx.stats.bytesFetched - before, bytesReused: 0 });
      return;
    }
    if (index && !(await exists(`${partial}.json`))) {
      this.localTensors ??= await loadLocalTensors(this.o.dir);
      const plan = planDelta(index, f.size, this.localTensors, this.o.coalesceGap);
      if (plan.localBytes > 0) {
        try {
          this.bytesPlanned -= plan.localBytes;
          if (await this.commitIfProven(f, partial, index, await assembleDelta(this.ctx, key, f.size, index, plan, partial))) {
            this.bytesReused += plan.localBytes;
            this.emit({ type: 'file', model, path: f.path, sha256: f.sha256, how: 'delta', bytesFetched: this.ctx.stats.bytesFetched - before, bytesReused: plan.localBytes });
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
      if (await this.commitIfProven(f, partial, index, await downloadWhole(this.ctx, key, f.size, partial, index?.tensors ?? []))) break;
      await dropPartial(partial);
      if (attempt >= 2) throw new VerificationError(`${model}: ${f.path} from ${this.o.source.description} does not match the manifest's sha256 ${f.sha256}; refused, the active version is unchanged`);
      this.emit({ type: 'fallback', model, path: f.path, reason: 'downloaded bytes failed the sha256 check; downloading again' });
    }
    this.emit({ type: 'file', model, path: f.path, sha256: f.sha256, how: 'download', bytesFetched: this.ctx.stats.bytesFetched - before, bytesReused: 0 });
  }

  /** The index object, or undefined when it is missing or unusable (it is only a hint). */
  private async fetchIndex(model: string, f: ManifestFile): Promise<SafetensorsIndex | undefined> {
    try {
      const bytes = await fetchSmall(this.ctx, indexKey(f.sha256), this.o.maxIndexBytes ?? 16 << 20);
      const idx = validIndex(JSON.parse(bytes.toString('utf8')), f.size);
      if (!idx) this.emit({ type: 'fallback', model, path: f.path, reason: 'the index object is malformed' });
      return idx;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const reason = e instanceof NotFoundError ? 'no index object in the store' : `index unavailable: ${(e as Error).message}`;
      this.emit({ type: 'fallback', model, path: f.path, reason });
      return undefined;
    }
  }

  /**
   * If `partial` holds exactly the manifest's bytes, moves it into the cache (read-only) and records
   * the tensor ranges proven by the same read. Returns false, leaving the partial, otherwise.
   */
  private async tryCommit(f: ManifestFile, partial: string, index: SafetensorsIndex | undefined): Promise<boolean> {
    try {
      if ((await stat(partial)).size !== f.size) return false;
    } catch {
      return false;
    }
    return this.commitIfProven(f, partial, index, await proveFile(partial, index?.tensors ?? []));
  }

  /** Commits the partial when its proof (sha256 and size) matches the manifest; false leaves it where it is. */
  private async commitIfProven(f: ManifestFile, partial: string, index: SafetensorsIndex | undefined, proof: Proof): Promise<boolean> {
    if (proof.sha256 !== f.sha256 || proof.size !== f.size) return false;
    await this.commit(f, partial, index, proof.proven);
    return true;
  }

  /** Moves a verified partial into the cache; `proven[i]` says whether index tensor i was proven by hashing. */
  private async commit(f: ManifestFile, partial: string, index: SafetensorsIndex | undefined, proven: boolean[]): Promise<void> {
    const tensors = index?.tensors ?? [];
    crashPoint('after-staging-verify');
    if (index) {
      const record: ProvenIndex = { tensors: tensors.filter((_, i) => proven[i]).map((t) => ({ sha256: t.sha256, start: t.start, end: t.end })) };
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
      for (const t of tensors.filter((_, i) => proven[i])) if (!this.localTensors.has(t.sha256)) this.localTensors.set(t.sha256, { path: this.p.blob(f.sha256), start: t.start, end: t.end });
    }
  }

  /** versions/<v>/ built in a temp folder from hardlinks (copies where links fail), then renamed. */
  private async materialize(t: Target): Promise<void> {
    const final = this.p.version(t.model, t.version);
    if (await this.versionIntact(t.model, t.version, t.files)) return;
    const versions = this.p.versions(t.model);
    await mkdir(versions, { recursive: true });
    await mkdir(dirname(this.p.meta(t.model, t.version)), { recursive: true });
    const tmp = join(versions, `.tmp-${t.version}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    for (const f of t.files) {
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
    await writeFileAtomic(this.p.meta(t.model, t.version), JSON.stringify({ files: t.files }));
    if (await exists(final)) await trash(final); // a damaged copy of this version; never the active one
    await rename(tmp, final);
    await fsyncDir(versions);
  }

  /** Switches `current` by renaming a new symlink over it; runs the load hook; rolls back if it fails. */
  private async activate(t: Target): Promise<void> {
    const previous = await activeVersion(this.o.dir, t.model);
    crashPoint('before-symlink-swap');
    await this.pointCurrent(t.model, t.version);
    crashPoint('after-swap-before-state');
    if (this.o.loadHook) {
      try {
        await this.o.loadHook(t.model, t.version, this.p.version(t.model, t.version));
      } catch (e) {
        const error = (e as Error).message;
        if (previous && previous !== t.version) await this.pointCurrent(t.model, previous);
        else await unlink(this.p.current(t.model)).catch(() => {});
        this.emit({ type: 'rolled-back', model: t.model, version: t.version, ...(previous ? { restored: previous } : {}), error });
        throw new VerificationError(`${t.model}@${t.version} failed to load (${error}); ${previous ? `rolled back to ${previous}` : 'no previous version to roll back to'}`);
      }
    }
    this.emit({ type: 'activated', model: t.model, version: t.version, ...(previous && previous !== t.version ? { previous } : {}) });
  }

  private async pointCurrent(model: string, version: string): Promise<void> {
    const dir = this.p.model(model);
    const tmp = join(dir, `.current-${randomBytes(4).toString('hex')}`);
    await symlink(posix.join('versions', version), tmp);
    await rename(tmp, this.p.current(model));
    await fsyncDir(dir);
  }

  /**
   * Keeps, per model, the active version and the most recent others up to keepVersions (by activation
   * history, then folder age); then deletes blobs no kept version uses and stale staging files.
   */
  private async gc(targets: Target[]): Promise<void> {
    const keepN = Math.max(1, this.o.keepVersions ?? 2);
    const referenced = new Set<string>();
    for (const t of targets) for (const f of t.files) referenced.add(f.sha256); // this sync's targets, even if not yet active
    await sweepCache(this.p, async (model, versions) => {
      const active = await activeVersion(this.o.dir, model);
      const history = this.state.models[model]?.history ?? [];
      const ages = new Map<string, number>();
      for (const v of versions) ages.set(v, (await stat(join(this.p.versions(model), v)).catch(() => undefined))?.mtimeMs ?? 0);
      const order = [...new Set([...(active ? [active] : []), ...history.filter((v) => ages.has(v)), ...[...versions].sort((a, b) => ages.get(b)! - ages.get(a)!)])];
      return new Set(order.slice(0, keepN));
    }, referenced, this.emit);
  }
}

/**
 * Deletes every version folder `keepOf` does not keep, then the blobs and indexes neither a kept
 * version nor `referenced` uses, and staging files nothing wants. A kept version whose file list
 * cannot be read keeps every blob (better a full disk than a deleted weight).
 */
async function sweepCache(p: ReturnType<typeof paths>, keepOf: (model: string, versions: string[]) => Promise<Set<string>>, referenced: Set<string>, emit: (e: SyncEvent) => void): Promise<void> {
  const removed: string[] = [];
  let blobGcSafe = true;
  for (const model of await listDir(p.models)) {
    const versionsDir = p.versions(model);
    const entries = await listDir(versionsDir);
    for (const e of entries.filter((e) => e.startsWith('.'))) await rm(join(versionsDir, e), { recursive: true, force: true }); // temp/trash left by a crash
    const versions = entries.filter((e) => !e.startsWith('.'));
    const keep = await keepOf(model, versions);
    for (const v of versions) {
      if (keep.has(v)) continue;
      await trash(join(versionsDir, v));
      crashPoint('during-gc');
      await rm(p.meta(model, v), { force: true });
      removed.push(`${model}@${v}`);
    }
    for (const v of keep) {
      try {
        const meta = JSON.parse(await readFile(p.meta(model, v), 'utf8')) as { files: ManifestFile[] };
        for (const f of meta.files) referenced.add(f.sha256);
      } catch {
        blobGcSafe = false; // cannot tell what this version uses: keep every blob
      }
    }
  }
  let blobsRemoved = 0;
  let bytesFreed = 0;
  if (blobGcSafe) {
    for (const sha of await listDir(p.blobs)) {
      if (referenced.has(sha)) continue;
      bytesFreed += (await stat(p.blob(sha)).catch(() => ({ size: 0 }))).size;
      await rm(p.blob(sha), { force: true });
      await rm(p.index(sha), { force: true });
      blobsRemoved++;
    }
    for (const name of await listDir(p.indexes)) if (!referenced.has(name.replace(/\.json$/, ''))) await rm(join(p.indexes, name), { force: true });
  }
  // Partials of files still wanted stay, so an interrupted download resumes.
  for (const name of await listDir(p.staging)) {
    const sha = name.split('.')[0]!;
    if (!referenced.has(sha) || (await exists(p.blob(sha)))) await rm(join(p.staging, name), { force: true });
  }
  if (removed.length || blobsRemoved) emit({ type: 'gc', versionsRemoved: removed, blobsRemoved, bytesFreed });
}

/** Rename first, then delete: a crash mid-delete leaves a .trash-* folder, never half a version. */
async function trash(path: string): Promise<void> {
  const t = join(dirname(path), `.trash-${randomBytes(4).toString('hex')}`);
  await rename(path, t);
  await rm(t, { recursive: true, force: true });
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
