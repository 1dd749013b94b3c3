// Does the store hold every artifact every version card names, with the recorded size and sha256?
// Each distinct blob is checked once (cards share files such as a tokenizer), a few at a time, and the
// outcome is reported for every card that names it.
import { UserError } from '../lib/errors.ts';
import { mapPool } from '../lib/pool.ts';
import type { Registry } from '../registry/load.ts';
import { verifyArtifacts } from '../store/index.ts';
import type { ArtifactStatus, BlobStore } from '../store/index.ts';

export interface CardArtifactCheck {
  model: string;
  version: string;
  /** The card file, repository-relative. */
  file: string;
  path: string;
  sha256: string;
  size: number;
  status: ArtifactStatus;
  detail?: string;
}

export interface StoreVerification {
  checks: CardArtifactCheck[];
  problems: CardArtifactCheck[];
  /** Distinct blobs looked at. */
  blobs: number;
  cards: number;
  /** Version cards that exist but are invalid, so their artifacts could not be checked. */
  skippedCards: string[];
}

export interface VerifyStoreOptions {
  rehash?: boolean;
  /** Only this model's cards. */
  model?: string;
  /** Blobs checked at once (default VERIFY_CONCURRENCY). */
  concurrency?: number;
  onProgress?: (done: number, total: number, bytesHashed: number) => void;
}

/** Blob checks in flight at once: enough to hide a store's latency, few enough not to be throttled. */
export const VERIFY_CONCURRENCY = 8;

export async function verifyStore(
  registry: Registry,
  store: BlobStore,
  options: VerifyStoreOptions = {},
): Promise<StoreVerification> {
  if (options.model !== undefined && !registry.models.has(options.model)) {
    throw new UserError(
      `no model "${options.model}" in the registry (have: ${[...registry.models.keys()].sort().join(', ') || 'none'})`,
    );
  }
  const entries = [...registry.models.values()]
    .filter((m) => options.model === undefined || m.name === options.model)
    .sort((a, b) => a.name.localeCompare(b.name));
  const wanted: Omit<CardArtifactCheck, 'status'>[] = [];
  const skippedCards: string[] = [];
  let cards = 0;
  for (const m of entries) {
    for (const v of [...m.brokenVersions].sort()) skippedCards.push(`models/${m.name}/versions/${v}.yaml`);
    for (const [version, { file, card }] of [...m.versions].sort(([a], [b]) =>
      a.localeCompare(b, 'en', { numeric: true }),
    )) {
      cards++;
      for (const a of card.artifacts)
        wanted.push({ model: m.name, version, file, path: a.path, sha256: a.sha256, size: a.size });
    }
  }
  // One check per (sha256, size): two cards naming the same bytes share it.
  const unique = new Map<string, { path: string; sha256: string; size: number }>();
  for (const w of wanted) {
    const k = `${w.sha256}:${w.size}`;
    if (!unique.has(k)) unique.set(k, { path: w.path, sha256: w.sha256, size: w.size });
  }
  const results = new Map<string, { status: ArtifactStatus; detail?: string }>();
  let done = 0;
  let hashed = 0;
  await mapPool([...unique.entries()], options.concurrency ?? VERIFY_CONCURRENCY, async ([k, a]) => {
    const [r] = await verifyArtifacts(store, [a], { rehash: !!options.rehash });
    results.set(k, { status: r!.status, ...(r!.detail !== undefined ? { detail: r!.detail } : {}) });
    done++;
    if (options.rehash && r!.status !== 'missing') hashed += a.size;
    options.onProgress?.(done, unique.size, hashed);
  });
  const checks = wanted.map((w) => ({ ...w, ...results.get(`${w.sha256}:${w.size}`)! }));
  return { checks, problems: checks.filter((c) => c.status !== 'ok'), blobs: unique.size, cards, skippedCards };
}
