// pushFolder: put every file of a model folder in the store under its sha256, with a per-tensor index
// for safetensors and GGUF files (src/formats/tensor-index.ts). Pure library code: progress goes through a callback, results are returned.
//
// Why hash first (with the cache) and not "upload to a temp key while hashing, then server-side copy":
// - the blob key is known before any byte is sent, so a blob already in the store (a re-push, a fresh
//   clone, a teammate's identical base model) costs one HEAD and sends 0 bytes; a temp-key upload
//   would send the whole file before finding out;
// - the upload goes straight to its final key with its sha256 metadata; no CopyObject, which is capped
//   at 5 GiB and is a full server-side data copy on stores without reference-counted copies;
// - the resume state is keyed by sha256, which survives renames and restarts.
// The cost is one extra read on a cache miss (usually from the page cache), small next to the upload
// itself. That read gives the whole-file and per-tensor digests at once (hashFileRanges: one pass, two
// threads); a dry run, which stores no index, computes the whole-file digest only. A file hashed in this run is not hashed again by the upload: the store checks instead that
// its identity (size, mtime, inode) did not change (PutFileOptions.hashedAs), so a file changed between
// the two passes is refused. A sha256 from the hash cache is still checked by hashing the upload.
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { hashFileRanges } from '../lib/hash.ts';
import { indexerFor, indexFile, readLayout, type TensorIndex } from '../formats/tensor-index.ts';
import { fileIdentity, HashCache, sameIdentity } from './hash-cache.ts';
import { blobKey, indexKey } from './keys.ts';
import { AlreadyExistsError } from './types.ts';
import type { BlobStore, PutProgress } from './types.ts';

export interface PushFileResult {
  /** Path relative to the pushed folder, '/'-separated. */
  path: string;
  size: number;
  sha256: string;
  blobKey: string;
  indexKey?: string;
  /** Bytes sent for the blob in this run (0 when deduplicated or in a dry run). */
  sentBytes: number;
  /** Multipart bytes an interrupted earlier push had already sent and this run reused. */
  resumedBytes: number;
  resumedParts: number;
  /** The blob was already in the store: nothing sent. In a dry run: it would be. */
  deduplicated: boolean;
  /** The sha256 came from the local hash cache (the file was not read to hash it). */
  hashCached: boolean;
}

export type PushProgress =
  | { kind: 'hashing'; path: string; size: number }
  | { kind: 'uploading'; path: string; size: number }
  | { kind: 'deduplicated'; path: string; size: number }
  | ({ path: string } & PutProgress)
  | { kind: 'done'; path: string; result: PushFileResult };

export interface PushFolderOptions {
  dir: string;
  store: BlobStore;
  /** Hash and check the store, send nothing. */
  dryRun?: boolean;
  /** Where the hash cache lives (hash-cache.json). Default ./.model-gitops */
  stateDir?: string;
  onProgress?: (p: PushProgress) => void;
  /**
   * Exactly these files, by artifact path, instead of every file under `dir` (the caller applied its
   * ignore rules and resolved links, e.g. into a Hugging Face cache). `file` is where the bytes are read.
   */
  files?: readonly { path: string; file: string }[];
}

/** Folders never pushed: VCS data and our own state. */
const SKIP_DIRS = new Set(['.git', '.model-gitops']);

/** Regular files under `dir` (symlinks to files followed: Hugging Face snapshots are symlinks), sorted, '/'-separated. */
export async function listModelFiles(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) {
        if (!SKIP_DIRS.has(ent.name)) await walk(p);
      } else if (ent.isFile() || (ent.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile())) {
        out.push(relative(root, p).split(sep).join('/'));
      }
    }
  };
  try {
    await walk(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`model folder ${dir} does not exist`);
    throw e;
  }
  return out.sort();
}

export async function pushFolder(options: PushFolderOptions): Promise<PushFileResult[]> {
  const { store, dryRun = false, onProgress } = options;
  const root = resolve(options.dir);
  const cache = await HashCache.load(options.stateDir ?? '.model-gitops');
  const results: PushFileResult[] = [];
  try {
    const files =
      options.files ?? (await listModelFiles(root)).map((path) => ({ path, file: join(root, ...path.split('/')) }));
    for (const { path, file } of files) results.push(await pushFile(store, cache, path, file, dryRun, onProgress));
  } finally {
    await cache.save();
  }
  return results;
}

async function pushFile(
  store: BlobStore,
  cache: HashCache,
  path: string,
  file: string,
  dryRun: boolean,
  onProgress: PushFolderOptions['onProgress'],
): Promise<PushFileResult> {
  const id = await fileIdentity(file);
  let sha256 = cache.lookup(file, id);
  const hashCached = sha256 !== undefined;
  const format = indexerFor(path);
  let index: TensorIndex | undefined;
  // A dry run stores no index, so it hashes the file only (one sha256 pass, the header still parsed
  // and checked); a real push gets the file's and every tensor's digests from one read.
  const computeIndexAndHash = async (withIndex = !dryRun): Promise<string> => {
    onProgress?.({ kind: 'hashing', path, size: id.size });
    let r: { sha256: string };
    if (format && !withIndex) {
      await readLayout(file, format);
      r = await hashFileRanges(file);
    } else if (format) {
      const indexed = await indexFile(file, format);
      index = indexed.index;
      r = indexed;
    } else {
      r = await hashFileRanges(file);
    }
    if (sameIdentity(id, await fileIdentity(file))) cache.record(file, id, r.sha256);
    else throw new UserError(`${file} changed while it was being hashed; push again once it is stable`);
    return r.sha256;
  };
  if (sha256 === undefined) {
    sha256 = await computeIndexAndHash();
    await cache.save(); // before uploading: a killed push keeps the hashes it already paid for
  }

  const result: PushFileResult = {
    path,
    size: id.size,
    sha256,
    blobKey: blobKey(sha256),
    sentBytes: 0,
    resumedBytes: 0,
    resumedParts: 0,
    deduplicated: false,
    hashCached,
  };
  if (format) result.indexKey = indexKey(sha256);

  const existing = await store.head(result.blobKey);
  if (existing) {
    if (existing.size !== id.size || existing.sha256 !== sha256) {
      throw new UserError(
        `${store.url} "${result.blobKey}" exists but does not match ${path}: store has size ${existing.size} sha256 ` +
          `${existing.sha256 ?? 'none'}, file has size ${id.size}; the store copy is damaged (not replaced: investigate it)`,
      );
    }
    result.deduplicated = true;
    onProgress?.({ kind: 'deduplicated', path, size: id.size });
  } else if (!dryRun) {
    onProgress?.({ kind: 'uploading', path, size: id.size });
    const r = await store.putFile(result.blobKey, file, {
      sha256,
      size: id.size,
      ...(hashCached ? {} : { hashedAs: id }),
      onProgress: onProgress && ((p) => onProgress({ path, ...p })),
    });
    result.sentBytes = r.sentBytes;
    result.resumedBytes = r.resumedBytes;
    result.resumedParts = r.resumedParts;
    result.deduplicated = r.existed;
  }

  // The index is small; written once (exclusive), computed only if the store lacks it.
  if (result.indexKey && !dryRun && !(await store.exists(result.indexKey))) {
    if (!index) {
      const again = await computeIndexAndHash(true);
      if (again !== sha256) throw new UserError(`${file} changed while it was being pushed; push again`);
    }
    try {
      await store.putObject(result.indexKey, JSON.stringify(index), {
        exclusive: true,
        contentType: 'application/json',
      });
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
  }
  onProgress?.({ kind: 'done', path, result });
  return result;
}
