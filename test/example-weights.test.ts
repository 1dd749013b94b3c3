// The example fleet's cards (examples/fleet) pin the exact bytes scripts/demo-weights.ts generates, so the demo can
// push, publish and sync them and every sha256 check is real.
import { describe, expect, it } from 'vitest';
import { demoWeights, sha256 } from '../scripts/demo-weights.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { FLEET } from './helpers.ts';

describe('example weights', () => {
  it('every version card lists exactly the generated files, sha256 and size', () => {
    const reg = validateRegistry(new WorkingTreeSource(FLEET, { maxFileBytes: 1 << 20 })).registry;
    const weights = demoWeights();
    const cards = [...reg.models.values()].flatMap((m) => [...m.versions.values()].map((v) => v.card));
    expect(cards.map((c) => `${c.name}/${c.version}`).sort()).toEqual([...weights.keys()].sort());
    for (const card of cards) {
      const files = weights.get(`${card.name}/${card.version}`)!;
      expect(card.artifacts, `${card.name}@${card.version}`).toEqual(
        Object.entries(files).map(([path, b]) => ({ path, sha256: sha256(b), size: b.length })),
      );
    }
  });
});
