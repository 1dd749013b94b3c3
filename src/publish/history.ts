// publicationHistory: every claimed sequence in the store, whether it was ever signed, which one is
// current, and what each signed publication changed per environment.
import { sha256Hex } from '../lib/hash.ts';
import { mapPool } from '../lib/pool.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { manifestSequenceKey } from '../store/keys.ts';
import type { BlobStore } from '../store/types.ts';
import { MANIFEST_TARGET } from '../trust/repository.ts';
import { BlobTrustStore } from '../trust/blob-trust-store.ts';
import { PUBLISH_DEFAULTS } from './defaults.ts';
import { type EnvironmentChanges, manifestChanges } from './diff.ts';
import { listManifestSequences, readCurrentPublication } from './store-reads.ts';

export interface HistoryEntry {
  sequence: number;
  publishedAt: string | null;
  source: { repository: string; commit: string } | null;
  sha256: string;
  /** Some targets version ever vouched for these bytes (devices could have received it). */
  signed: boolean;
  /** What timestamp.json points at now. */
  current: boolean;
  /** vs the previous signed publication. */
  changes: EnvironmentChanges[];
  problem?: string;
}

export async function publicationHistory(store: BlobStore): Promise<HistoryEntry[]> {
  const io = new BlobTrustStore(store);
  const signed = new Set<string>();
  const targetsKeys: string[] = [];
  for await (const o of store.list('metadata/'))
    if (/^metadata\/\d+\.targets\.json$/.test(o.key)) targetsKeys.push(o.key);
  await mapPool(targetsKeys, PUBLISH_DEFAULTS.historyReadConcurrency, async (k) => {
    const b = await io.get(k);
    try {
      const t = JSON.parse(b?.toString('utf8') ?? 'null') as {
        signed?: { targets?: Record<string, { hashes?: { sha256?: string } }> };
      } | null;
      const d = t?.signed?.targets?.[MANIFEST_TARGET]?.hashes?.sha256;
      if (d) signed.add(d);
    } catch {
      /* unreadable: not counted */
    }
  });
  const cur = await readCurrentPublication(store).catch(() => undefined);
  const seqs = await listManifestSequences(store);
  const entries = await mapPool(seqs, PUBLISH_DEFAULTS.historyReadConcurrency, async (sequence) => {
    const bytes = await store.getBytes(manifestSequenceKey(sequence));
    const digest = sha256Hex(bytes);
    try {
      return { sequence, manifest: JSON.parse(bytes.toString('utf8')) as Manifest, sha256: digest };
    } catch (e) {
      return { sequence, manifest: undefined, sha256: digest, problem: `not JSON: ${(e as Error).message}` };
    }
  });
  let prevSigned: Manifest | undefined;
  const out: HistoryEntry[] = [];
  for (const e of entries) {
    const isSigned = signed.has(e.sha256);
    out.push({
      sequence: e.sequence,
      publishedAt: e.manifest?.publishedAt ?? null,
      source: e.manifest?.source ?? null,
      sha256: e.sha256,
      signed: isSigned,
      current: cur?.sha256 === e.sha256,
      changes: e.manifest ? manifestChanges(prevSigned, e.manifest).filter((c) => c.status !== 'unchanged') : [],
      ...('problem' in e && e.problem ? { problem: e.problem } : {}),
    });
    if (isSigned && e.manifest) prevSigned = e.manifest;
  }
  return out;
}
