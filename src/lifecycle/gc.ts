// Garbage collection of the store: mark and sweep with a grace period.
//
// Mark: every blob and index that something retained references: a version card on the registry ref
// (not archived), an environment of that ref (champion, canary, rollback window), the current signed
// manifest, every manifest in the retention window (the newest `keepManifests` sequences and any
// published within `keepDays`), and any unfinished upload (S3 multipart uploads in progress, local
// upload states). Sweep: only blobs/sha256/ and indexes/sha256/ objects that are unreferenced AND older
// than the grace period. Before each batch of deletes the references are read again (when git's ref,
// the manifest sequences or the current publication moved) and every object is listed again, so a
// concurrent push (a fresh object) or publish (a new reference) stops its deletion.
// Every other key family is kept; a key of no family this toolkit writes is reported and never touched.
import { parse as parseYaml } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { runGit } from '../lib/git.ts';
import { mapPool } from '../lib/pool.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { listManifestSequences, readCurrentPublication } from '../publish/store-reads.ts';
import { GitSource } from '../registry/git-source.ts';
import {
  blobKey,
  indexKey,
  isSha256Hex,
  MANIFEST_KEY,
  manifestSequenceKey,
  REPORTS_PREFIX,
  sequenceOfManifestKey,
  sha256OfBlobKey,
  sha256OfIndexKey,
} from '../store/keys.ts';
import { TUF_PREFIXES } from '../trust/metadata.ts';
import type { BlobStore, ObjectInfo } from '../store/types.ts';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const GC_DEFAULTS = {
  /** Newest manifests kept as roots, whatever their age. */
  keepManifests: 10,
  /** Manifests published within this many days are roots too. */
  keepDays: 30,
  /** Nothing younger than this is deleted: longer than any push → merge → publish takes. */
  graceSeconds: 48 * 3600,
  /** Deletes between two re-reads of the references. */
  batch: 100,
  concurrency: 8,
  /** Registry files larger than this are a problem (then gc refuses: it cannot see what they reference). */
  maxFileBytes: 4 << 20,
} as const;

export type KeyFamily = 'blob' | 'index' | 'manifest' | 'manifests' | 'metadata' | 'targets' | 'reports' | 'unknown';

/** Which family of the store layout a key belongs to; gc sweeps only 'blob' and 'index'. */
export function keyFamily(key: string): KeyFamily {
  if (sha256OfBlobKey(key)) return 'blob';
  if (sha256OfIndexKey(key)) return 'index';
  if (key === MANIFEST_KEY) return 'manifest';
  if (sequenceOfManifestKey(key) !== undefined) return 'manifests';
  if (key.startsWith(TUF_PREFIXES.metadata)) return 'metadata';
  if (key.startsWith(TUF_PREFIXES.targets)) return 'targets';
  if (key.startsWith(REPORTS_PREFIX)) return 'reports';
  return 'unknown';
}

export interface GcOptions {
  store: BlobStore;
  /** Git repository of the registry, and the ref whose cards count (default "main"). */
  repo: string;
  ref?: string;
  keepManifests?: number;
  keepDays?: number;
  graceSeconds?: number;
  /** Act; without it nothing is deleted (dry run). */
  delete?: boolean;
  /** Local upload-state folder of a push (its unfinished uploads are references). */
  stateDir?: string;
  now?: () => Date;
  batch?: number;
  concurrency?: number;
  onProgress?: (p: { phase: 'mark' | 'list' | 'sweep'; done: number; total?: number }) => void;
}

export interface GcCandidate {
  key: string;
  size: number;
  lastModified: string;
}

export interface GcResult {
  dryRun: boolean;
  store: string;
  ref: { name: string; commit: string };
  retention: { keepManifests: number; keepDays: number; graceSeconds: number; manifests: number[] };
  /** Objects listed, by family. */
  listed: Record<KeyFamily, number>;
  referenced: number;
  /** Unreferenced but younger than the grace period (or with no timestamp): kept this time. */
  young: number;
  /** What was (dry run: would be) deleted. */
  deleted: GcCandidate[];
  reclaimedBytes: number;
  /** Candidates that gained a reference or a newer write between mark and delete, and were kept. */
  rescued: string[];
  /** Keys of no known family: never touched. */
  unknown: string[];
  rereads: number;
}

/** Blob + index keys of every file of every version of a manifest. */
function manifestKeys(m: Manifest, into: Set<string>, where: string): void {
  if (!m || typeof m !== 'object' || typeof m.models !== 'object' || m.models === null)
    throw new UserError(`${where} is not a manifest (no models): gc cannot tell what it references; fix or remove it`);
  for (const mv of Object.values(m.models))
    for (const v of Object.values(mv?.versions ?? {}))
      for (const f of v?.files ?? []) {
        if (!isSha256Hex(f.sha256))
          throw new UserError(`${where} names a file with a malformed sha256 ${JSON.stringify(f.sha256)}`);
        into.add(blobKey(f.sha256));
        into.add(indexKey(f.sha256));
      }
}

/**
 * Blobs the registry at `commit` references. Cards are read loosely (any YAML with artifacts[].sha256
 * counts), so a card that fails its schema still protects its bytes; one that is not YAML at all stops gc.
 */
export function registryKeys(repo: string, commit: string): Set<string> {
  const out = new Set<string>();
  const source = new GitSource(repo, commit, { maxFileBytes: GC_DEFAULTS.maxFileBytes });
  const cards = new Map<string, { archived: boolean; shas: string[] }>();
  const deployed: { model: string; version: string }[] = [];
  for (const e of source.entries()) {
    if (!/\.ya?ml$/.test(e.path)) continue;
    if (e.problem || !e.bytes)
      throw new UserError(`${e.path} at ${commit.slice(0, 12)}: ${e.problem}; gc cannot tell what it references`);
    let doc: unknown;
    try {
      doc = parseYaml(e.bytes.toString('utf8'));
    } catch (err) {
      throw new UserError(
        `${e.path} at ${commit.slice(0, 12)} is not valid YAML (${(err as Error).message.split('\n')[0]}); gc cannot tell what it references: fix it on ${commit.slice(0, 12)} first`,
      );
    }
    const m = /^models\/([^/]+)\/versions\/(.+)\.ya?ml$/.exec(e.path);
    if (m) {
      const d = (doc ?? {}) as { artifacts?: { sha256?: unknown }[]; archived?: unknown };
      const shas = (Array.isArray(d.artifacts) ? d.artifacts : [])
        .map((a) => a?.sha256)
        .filter((s): s is string => typeof s === 'string' && isSha256Hex(s));
      cards.set(`${m[1]}@${m[2]}`, { archived: typeof d.archived === 'object' && d.archived !== null, shas });
    } else if (/^environments\/[^/]+\.ya?ml$/.test(e.path)) {
      const models = (doc as { models?: Record<string, unknown> } | null)?.models ?? {};
      for (const [model, dep] of Object.entries(models)) {
        const d = typeof dep === 'string' ? { version: dep } : ((dep ?? {}) as Record<string, unknown>);
        const versions = [d.version, (d.canary as { version?: unknown } | undefined)?.version];
        if (Array.isArray(d.rollbackWindow)) versions.push(...d.rollbackWindow);
        for (const v of versions) if (typeof v === 'string') deployed.push({ model, version: v });
      }
    }
  }
  const add = (shas: string[]) => {
    for (const s of shas) {
      out.add(blobKey(s));
      out.add(indexKey(s));
    }
  };
  for (const c of cards.values()) if (!c.archived) add(c.shas);
  // An environment that still runs an archived version keeps it (check refuses that state, gc does not judge).
  for (const d of deployed) add(cards.get(`${d.model}@${d.version}`)?.shas ?? []);
  return out;
}

interface Roots {
  keys: Set<string>;
  /** The manifests/<n>.json sequences seen: a publish adds one, which is what triggers a re-read. */
  sequences: string;
  commit: string;
  manifests: number[];
}

async function readRoots(o: GcOptions, now: Date, keepManifests: number, keepDays: number): Promise<Roots> {
  const { store } = o;
  const ref = o.ref ?? 'main';
  const r = runGit(o.repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (r.status !== 0)
    throw new UserError(`"${ref}" is not a commit in ${o.repo}; pass --ref with the branch publish reads`);
  const commit = r.stdout.toString().trim();
  const keys = registryKeys(o.repo, commit);

  const cur = await readCurrentPublication(store);
  if (cur.manifest) manifestKeys(cur.manifest, keys, `the current signed manifest (sequence ${cur.manifest.sequence})`);
  const convenience = await store.getBytes(MANIFEST_KEY).catch(() => undefined);
  if (convenience) manifestKeys(parseManifest(convenience, MANIFEST_KEY), keys, MANIFEST_KEY);

  const seqs = await listManifestSequences(store);
  const newest = new Set(seqs.slice(-keepManifests));
  const cutoff = now.getTime() - keepDays * 86_400_000;
  const kept: number[] = [];
  await mapPool(seqs, o.concurrency ?? GC_DEFAULTS.concurrency, async (seq) => {
    const key = manifestSequenceKey(seq);
    const bytes = await store.getBytes(key).catch(() => undefined);
    if (!bytes) return; // deleted meanwhile: nothing to protect
    const m = parseManifest(bytes, key);
    const at = Date.parse(m.publishedAt);
    // An unreadable date counts as recent: keep rather than guess.
    if (newest.has(seq) || !(at < cutoff)) {
      manifestKeys(m, keys, key);
      kept.push(seq);
    }
  });
  kept.sort((a, b) => a - b);

  if (store.listUploads)
    for await (const u of store.listUploads('')) {
      keys.add(u.key);
      const sha = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(u.key)?.[1];
      if (sha) keys.add(indexKey(sha));
    }
  if (o.stateDir) {
    const names = await readdir(join(o.stateDir, 'uploads')).catch(() => [] as string[]);
    for (const n of names) {
      const sha = /^([0-9a-f]{64})\.json$/.exec(n)?.[1];
      if (sha) {
        keys.add(blobKey(sha));
        keys.add(indexKey(sha));
      }
    }
  }
  return { keys, sequences: seqs.join(','), commit, manifests: kept };
}

function parseManifest(bytes: Buffer, key: string): Manifest {
  try {
    return JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch (e) {
    throw new UserError(
      `${key} is not JSON (${(e as Error).message}); gc cannot tell what it references: fix or remove it`,
    );
  }
}

/** Cheaply: has anything that can add a reference (a commit on the ref, a new manifest) moved since `roots`? */
async function rootsMoved(o: GcOptions, roots: Roots): Promise<boolean> {
  const ref = o.ref ?? 'main';
  const r = runGit(o.repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (r.stdout.toString().trim() !== roots.commit) return true;
  const seqs = await listManifestSequences(o.store);
  return seqs.join(',') !== roots.sequences;
}

export async function collectGarbage(o: GcOptions): Promise<GcResult> {
  const now = o.now ?? (() => new Date());
  const keepManifests = o.keepManifests ?? GC_DEFAULTS.keepManifests;
  const keepDays = o.keepDays ?? GC_DEFAULTS.keepDays;
  const graceSeconds = o.graceSeconds ?? GC_DEFAULTS.graceSeconds;
  if (!Number.isSafeInteger(keepManifests) || keepManifests < 1)
    throw new UserError(
      `keep-manifests must be a whole number >= 1 (the newest manifest is always kept), got ${keepManifests}`,
    );
  if (!(keepDays >= 0)) throw new UserError(`keep-days must be >= 0, got ${keepDays}`);
  if (!(graceSeconds >= 0)) throw new UserError(`grace must be >= 0 seconds, got ${graceSeconds}`);
  const batchSize = o.batch ?? GC_DEFAULTS.batch;
  const progress = o.onProgress ?? (() => {});

  let roots = await readRoots(o, now(), keepManifests, keepDays);
  let rereads = 0;
  progress({ phase: 'mark', done: roots.keys.size });

  const listed: GcResult['listed'] = {
    blob: 0,
    index: 0,
    manifest: 0,
    manifests: 0,
    metadata: 0,
    targets: 0,
    reports: 0,
    unknown: 0,
  };
  const unknown: string[] = [];
  const unreferenced: ObjectInfo[] = [];
  let referenced = 0;
  let young = 0;
  const isOld = (info: ObjectInfo) =>
    info.lastModified !== undefined && now().getTime() - info.lastModified.getTime() >= graceSeconds * 1000;
  for await (const info of o.store.list('')) {
    const fam = keyFamily(info.key);
    listed[fam]++;
    if (fam === 'unknown') unknown.push(info.key);
    if (fam !== 'blob' && fam !== 'index') continue;
    if (roots.keys.has(info.key)) referenced++;
    else if (!isOld(info)) young++;
    else unreferenced.push(info);
    const n = listed.blob + listed.index;
    if (n % 1000 === 0) progress({ phase: 'list', done: n });
  }

  const deleted: GcCandidate[] = [];
  const rescued: string[] = [];
  for (let i = 0; i < unreferenced.length; i += batchSize) {
    const batch = unreferenced.slice(i, i + batchSize);
    // References read again before each batch: a publish or a merge meanwhile rescues its objects.
    if (await rootsMoved(o, roots)) {
      roots = await readRoots(o, now(), keepManifests, keepDays);
      rereads++;
    } else if (o.store.listUploads) {
      for await (const u of o.store.listUploads('')) roots.keys.add(u.key);
    }
    await mapPool(batch, o.concurrency ?? GC_DEFAULTS.concurrency, async (cand) => {
      if (roots.keys.has(cand.key)) {
        rescued.push(cand.key);
        return;
      }
      // Looked up again right before the delete: a fresh write (re-push after an earlier delete) is young again.
      const fresh = await o.store.head(cand.key);
      if (!fresh) return; // gone already (another gc)
      if (!isOld(fresh)) {
        rescued.push(cand.key);
        return;
      }
      if (o.delete) await o.store.delete(cand.key);
      deleted.push({ key: cand.key, size: fresh.size, lastModified: fresh.lastModified!.toISOString() });
    });
    progress({ phase: 'sweep', done: Math.min(i + batchSize, unreferenced.length), total: unreferenced.length });
  }
  deleted.sort((a, b) => (a.key < b.key ? -1 : 1));
  rescued.sort();
  return {
    dryRun: !o.delete,
    store: o.store.url,
    ref: { name: o.ref ?? 'main', commit: roots.commit },
    retention: { keepManifests, keepDays, graceSeconds, manifests: roots.manifests },
    listed,
    referenced,
    young,
    deleted,
    reclaimedBytes: deleted.reduce((s, d) => s + d.size, 0),
    rescued,
    unknown,
    rereads,
  };
}
