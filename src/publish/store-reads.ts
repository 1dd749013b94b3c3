// What publish reads from the store before it writes: the currently signed publication, the claimed
// sequences, whether every referenced blob (and per-tensor index) is there, and benchmark summaries.
import { artifactDigest } from '../registry/artifact-digest.ts';
import { parseReport, summarizeReport } from '../benchmark/report.ts';
import { reportKey } from '../benchmark/store.ts';
import { testbedName } from '../benchmark/testbed.ts';
import { UserError, NotFoundError } from '../lib/errors.ts';
import { mapPool } from '../lib/pool.ts';
import type { BenchmarkSummary, Manifest } from '../manifest/manifest.ts';
import type { Registry } from '../registry/load.ts';
import { indexKey } from '../store/keys.ts';
import { isIndexable } from '../formats/tensor-index.ts';
import type { BlobStore } from '../store/types.ts';
import { verifyArtifacts, type Artifact } from '../store/verify.ts';
import { MANIFEST_TARGET, loadPublished, targetObjectKey } from '../trust/repository.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { PUBLISH_DEFAULTS } from './defaults.ts';
import { type MissingBlob, MissingBlobsError } from './errors.ts';

export interface CurrentPublication {
  /** Snapshot version timestamp.json points at (0: nothing published). */
  snapshotVersion: number;
  timestampVersion: number;
  targetsVersion: number;
  manifest?: Manifest;
  bytes?: Buffer;
  sha256?: string;
  /** Earliest expiry of timestamp, snapshot and targets. */
  expires?: string;
}

/** What timestamp.json points at now, read straight from the store (publisher side). */
export async function readCurrentPublication(store: BlobStore): Promise<CurrentPublication> {
  const io = new BlobTrustStore(store);
  const cur = await loadPublished(io);
  if (!cur) return { snapshotVersion: 0, timestampVersion: 0, targetsVersion: 0 };
  const base = {
    snapshotVersion: cur.snapshot.signed.version,
    timestampVersion: cur.timestamp.signed.version,
    targetsVersion: cur.targetsVersion,
    expires: [cur.timestamp.signed.expires, cur.snapshot.signed.expires, cur.targets.signed.expires].sort()[0]!,
  };
  const t = cur.targets.signed.targets[MANIFEST_TARGET];
  const digest = t?.hashes['sha256'];
  if (!digest) return base;
  const bytes = await io.get(targetObjectKey(MANIFEST_TARGET, digest));
  if (!bytes)
    throw new UserError(
      `targets version ${cur.targetsVersion} names ${MANIFEST_TARGET} ${digest.slice(0, 12)}… but ${targetObjectKey(MANIFEST_TARGET, digest)} is missing from ${store.url}`,
    );
  return { ...base, bytes, sha256: digest, manifest: JSON.parse(bytes.toString('utf8')) as Manifest };
}

/** Every N with a manifests/N.json in the store, ascending. */
export async function listManifestSequences(store: BlobStore): Promise<number[]> {
  const out: number[] = [];
  for await (const o of store.list('manifests/')) {
    const m = /^manifests\/(\d+)\.json$/.exec(o.key);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

export interface ReferencedBlobs {
  /** Distinct blobs the manifest references (all verified present). */
  blobs: number;
  /** sha256 of the .safetensors blobs the store also holds a per-tensor index for. */
  indexed: Set<string>;
}

/**
 * Every blob `draft` references, verified in the store (HEAD: size + sha256 metadata); a MissingBlobsError
 * lists any that are missing or wrong. Per-tensor indexes are flagged in the manifest only when the store
 * really has one (else devices download whole files), so those are looked up too.
 */
export async function checkReferencedBlobs(store: BlobStore, draft: Manifest): Promise<ReferencedBlobs> {
  const uses = new Map<string, { artifact: Artifact; usedBy: string[] }>();
  for (const [model, mv] of Object.entries(draft.models)) {
    for (const [version, entry] of Object.entries(mv.versions)) {
      for (const f of entry.files) {
        const u = uses.get(f.sha256) ?? { artifact: { path: f.path, sha256: f.sha256, size: f.size }, usedBy: [] };
        u.usedBy.push(`${model}@${version}/${f.path}`);
        uses.set(f.sha256, u);
      }
    }
  }
  const all = [...uses.values()];
  const batches = chunk(all, PUBLISH_DEFAULTS.blobCheckBatch);
  const checked = await mapPool(batches, PUBLISH_DEFAULTS.blobCheckConcurrency, (c) =>
    verifyArtifacts(
      store,
      c.map((u) => u.artifact),
    ),
  );
  const checks = checked.flat();
  const missing: MissingBlob[] = checks
    .filter((c) => c.status !== 'ok')
    .map((c) => ({
      sha256: c.sha256,
      size: c.size,
      blobKey: c.blobKey,
      status: c.status,
      ...(c.detail ? { detail: c.detail } : {}),
      usedBy: uses.get(c.sha256)!.usedBy,
    }));
  if (missing.length) throw new MissingBlobsError(store.url, missing);
  const indexable = all.filter((u) => isIndexable(u.artifact.path)).map((u) => u.artifact.sha256);
  const hasIndex = async (s: string) => ((await store.exists(indexKey(s))) ? s : undefined);
  const found = await mapPool(indexable, PUBLISH_DEFAULTS.indexCheckConcurrency, hasIndex);
  return { blobs: all.length, indexed: new Set(found.filter((s): s is string => s !== undefined)) };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Benchmark summaries for every version the manifest references, from reports/<model>/<version>/<testbed>.json. */
export async function loadBenchmarkSummaries(
  store: BlobStore,
  registry: Registry,
  versions: readonly { model: string; version: string }[],
): Promise<Map<string, BenchmarkSummary>> {
  const out = new Map<string, BenchmarkSummary>();
  await mapPool(versions, PUBLISH_DEFAULTS.benchmarkReadConcurrency, async ({ model, version }) => {
    const entry = registry.models.get(model);
    const card = entry?.versions.get(version)?.card;
    if (!card) return;
    let key: string;
    try {
      key = reportKey(model, version, testbedName(entry?.card?.benchmark));
    } catch {
      return;
    }
    let bytes: Buffer;
    try {
      bytes = await store.getBytes(key);
    } catch (e) {
      if (e instanceof NotFoundError) return;
      throw e;
    }
    try {
      const r = parseReport(bytes, key);
      // Evidence counts only for exactly these bytes.
      if (r.model === model && r.version === version && r.artifactDigest === artifactDigest(card))
        out.set(`${model}@${version}`, summarizeReport(r, key));
    } catch {
      // An unreadable report is not evidence; the benchmark gate reports it where it matters.
    }
  });
  return out;
}
