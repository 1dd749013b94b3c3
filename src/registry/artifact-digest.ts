// One digest for "exactly these bytes": benchmark evidence is bound to it, so a report proves what it
// measured even when two versions share files or a card is renamed.
import type { Artifact } from './types.ts';
import { sha256Hex } from '../lib/hash.ts';

/**
 * `sha256:<hex>` of the card's artifact sha256s, sorted, one per line (each followed by "\n").
 * Paths and sizes are left out on purpose: the content alone identifies what was benchmarked.
 */
export function artifactDigest(card: { artifacts: readonly Pick<Artifact, 'sha256'>[] }): string {
  const lines = card.artifacts.map((a) => a.sha256).sort();
  return `sha256:${sha256Hex(lines.map((l) => `${l}\n`).join(''))}`;
}
