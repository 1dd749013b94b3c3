// The pure card writer: weight facts, new cards, in-place updates of existing cards.
import { describe, expect, it } from 'vitest';
import { cardDtype, missingFields, newCardText, updateCardText, weightFacts } from '../../src/authoring/card-writer.ts';
import type { TensorInfo } from '../../src/formats/safetensors.ts';

const A = (path: string, c: string, size: number) => ({ path, sha256: c.repeat(64), size });
const t = (dtype: string, n: number, bytes: number, start = 0): TensorInfo => ({
  name: `${dtype}${n}`,
  dtype,
  shape: [n],
  start,
  end: start + bytes,
});

describe('weightFacts', () => {
  it('maps safetensors dtypes to the card enum by bytes, sums parameters over shards, reads model_type', () => {
    const f = weightFacts(
      [A('b.safetensors', 'b', 1), A('a.safetensors', 'a', 1)],
      [t('BF16', 100, 200), t('F32', 10, 40), t('BF16', 50, 100)],
      { model_type: 'llama' },
    );
    expect(f).toMatchObject({ format: 'safetensors', parameters: 160, dtype: 'bf16', family: 'llama' });
    expect(f.artifacts.map((a) => a.path)).toEqual(['a.safetensors', 'b.safetensors']);
    expect(['F8_E4M3', 'U8', 'BOOL', 'F64'].map(cardDtype)).toEqual(['f8_e4m3', 'u8', 'bool', 'f64']);
    const odd = weightFacts([A('m.safetensors', 'a', 1)], [t('U32', 4, 16)]);
    expect(odd.dtype).toBeUndefined();
    expect(odd.notes[0]).toContain('U32 has no architecture.dtype equivalent');
    expect(weightFacts([A('m.gguf', 'a', 1)], []).format).toBe('gguf');
    expect(weightFacts([A('m.bin', 'a', 1)], [], { model_type: 'not valid!' }).notes[0]).toContain(
      'not a valid family name',
    );
  });
});

describe('newCardText', () => {
  const facts = weightFacts([A('model.safetensors', 'a', 10)], [t('F16', 5, 10)], { model_type: 'bert' });
  it('names every missing field, and refuses without --draft', () => {
    expect(missingFields({ name: 'm', version: '1.0.0' }, facts).map((m) => m.field)).toEqual([
      'summary',
      'interface',
      'lineage.code.repository',
      'lineage.code.commit',
    ]);
    expect(() => newCardText({ name: 'm', version: '1.0.0' }, facts)).toThrow(/these fields are still missing/);
    expect(() => newCardText({ name: 'm', version: '1.0.0', codeCommit: 'HEAD' }, facts)).toThrow(/full commit id/);
  });
  it('a draft has null placeholders marked TODO', () => {
    const r = newCardText({ name: 'm', version: '1.0.0', summary: 'x' }, facts, { draft: true });
    expect(r.placeholders).toEqual(['interface', 'lineage.code.repository', 'lineage.code.commit']);
    expect(r.text).toContain('  inputs: null # TODO(model-gitops push):');
    expect(r.text).toContain('architecture: {family: bert, parameters: 5, format: safetensors, dtype: f16}');
  });
});

describe('updateCardText', () => {
  const card = `# yaml-language-server: $schema=../../../schemas/model-version.schema.json
name: m   # the name
version: 1.0.0
architecture: {family: mlp, parameters: 1, format: safetensors, dtype: f32}
artifacts:
  # weights first
  - {path: model.safetensors, sha256: ${'a'.repeat(64)}, size: 10} # main
  - {path: old.json, sha256: ${'b'.repeat(64)}, size: 2}
lineage:
  hyperparameters: {lr: 2.0e-5, warmup: 1_000, flag: yes}
`;
  it('returns the text byte for byte when nothing changed', () => {
    const facts = weightFacts([A('model.safetensors', 'a', 10), A('old.json', 'b', 2)], [t('F32', 1, 4)]);
    const r = updateCardText('c.yaml', card, facts);
    expect(r).toMatchObject({ changed: false, changes: [] });
    expect(r.text).toBe(card);
  });
  it('changes only the scalars that differ, removes a gone file, appends a new one in the same style', () => {
    const facts = weightFacts([A('model.safetensors', 'c', 12), A('new.json', 'd', 3)], [t('BF16', 6, 12)]);
    const r = updateCardText('c.yaml', card, facts);
    expect(r.changes).toEqual([
      'artifacts[model.safetensors].sha256',
      'artifacts[model.safetensors].size',
      'artifacts: removed old.json',
      'artifacts: added new.json',
      'architecture.parameters',
      'architecture.dtype',
    ]);
    expect(r.text).toBe(
      card
        .replace(`sha256: ${'a'.repeat(64)}, size: 10} # main`, `sha256: ${'c'.repeat(64)}, size: 12} # main`)
        .replace(
          `  - {path: old.json, sha256: ${'b'.repeat(64)}, size: 2}`,
          `  - {path: new.json, sha256: ${'d'.repeat(64)}, size: 3}`,
        )
        .replace('parameters: 1, format: safetensors, dtype: f32', 'parameters: 6, format: safetensors, dtype: bf16'),
    );
  });
  it('adds a missing architecture field to a flow mapping', () => {
    const facts = weightFacts([A('model.safetensors', 'a', 10), A('old.json', 'b', 2)], [t('F32', 1, 4)]);
    const r = updateCardText('c.yaml', card.replace(', dtype: f32', ''), facts);
    expect(r.text).toContain('architecture: {family: mlp, parameters: 1, format: safetensors, dtype: f32}');
  });
});
