import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createAjv } from '../src/registry/schemas.ts';
import manifestSchema from '../schemas/manifest.schema.json' with { type: 'json' };
import { buildManifest, environmentSlice, lineageDigest, serialiseManifest } from '../src/manifest/manifest.ts';
import { canonicalJson } from '../src/lib/canonical-json.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { FLEET, edit, exampleRepo, write } from './helpers.ts';

const header = {
  sequence: 7,
  publishedAt: new Date('2026-11-24T10:00:00Z'),
  expiresAt: new Date('2026-12-01T10:00:00Z'),
  source: { repository: 'acme/models', commit: 'a'.repeat(40) },
};
const registry = (dir: string) => validateRegistry(new WorkingTreeSource(dir, { maxFileBytes: 1 << 20 })).registry;
const validateManifest = (createAjv() as Ajv2020).compile(manifestSchema);

describe('buildManifest', () => {
  it('lists every environment and exactly the versions they reference', () => {
    const m = buildManifest(registry(FLEET), header);
    expect(Object.keys(m.environments)).toEqual(['dev', 'production', 'staging']);
    expect(m.environments.production!.models['intent-classifier']).toEqual({
      version: '2.0.0',
      canary: { version: '2.1.0', weight: 5 },
      rollbackWindow: ['1.1.0'],
    });
    expect(Object.keys(m.models['intent-classifier']!.versions)).toEqual(['2.1.0', '2.0.0', '1.1.0']); // 1.0.0 runs nowhere
    const v = m.models['intent-classifier']!.versions['2.1.0']!;
    expect(v.files[0]).toEqual({
      path: 'model.safetensors',
      sha256: '7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180',
      size: 37640,
      index: true,
    });
    expect(v.files[1]).toEqual({
      path: 'config.json',
      sha256: 'd7a9ad12c7df7be0d6ceefcc121cddae615ddef4f5bc4d6a0e83d318f357e113',
      size: 220,
    });
    expect(m.models['structured-extractor']!.versions['1.0.0']!.dependencies).toEqual({
      'intent-classifier': '^2.0.0',
    });
    expect(validateManifest(m)).toBe(true);
  });

  it('is deterministic: the same registry gives the same bytes whatever the file order', () => {
    const a = serialiseManifest(buildManifest(registry(FLEET), header));
    const b = serialiseManifest(buildManifest(registry(exampleRepo()), header));
    expect(b.equals(a)).toBe(true);
    expect(a.toString()).toBe(canonicalJson(JSON.parse(a.toString())));
  });

  it('changes the lineage digest when the lineage changes, and only then', () => {
    const repo = exampleRepo();
    const before = buildManifest(registry(repo), header).models['pii-scrubber']!.versions['1.4.2']!.lineageDigest;
    edit(repo, 'models/pii-scrubber/versions/1.4.2.yaml', (t) => t.replace('epochs: 5', 'epochs: 6'));
    const reg = registry(repo);
    const after = buildManifest(reg, header).models['pii-scrubber']!.versions['1.4.2']!.lineageDigest;
    expect(after).not.toBe(before);
    expect(after).toBe(lineageDigest(reg.models.get('pii-scrubber')!.versions.get('1.4.2')!.card));
    expect(after).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('slices one environment with only the versions it needs', () => {
    const m = buildManifest(registry(FLEET), header);
    const s = environmentSlice(m, 'staging');
    expect(Object.keys(s.environments)).toEqual(['staging']);
    expect(Object.keys(s.models['intent-classifier']!.versions)).toEqual(['2.1.0']);
    expect(validateManifest(s)).toBe(true);
    expect(() => environmentSlice(m, 'qa')).toThrow('manifest has no environment "qa"');
  });
});

/** The example fleet plus a LoRA adapter on intent-classifier (^2.0.0) and a quantized pii-scrubber. */
function withAdapter(): string {
  const repo = exampleRepo();
  const card = (name: string, version: string, base: string) => `name: ${name}
version: ${version}
summary: Derived from another model.
interface:
  inputs: [{name: text, dtype: string}]
  outputs: [{name: label, dtype: string}]
architecture: {family: mlp, format: safetensors}
artifacts:
  - {path: adapter_model.safetensors, sha256: ${'a'.repeat(64)}, size: 1024}
lineage:
  code: {repository: acme/slm-training, commit: ${'c'.repeat(40)}}
base: ${base}
`;
  const modelYaml = (name: string) =>
    `name: ${name}\nowners: ["@acme/ml-platform"]\ntask: text-classification\ndescription: Derived.\n`;
  write(repo, 'models/support-lora/model.yaml', modelYaml('support-lora'));
  write(
    repo,
    'models/support-lora/versions/1.2.0.yaml',
    card('support-lora', '1.2.0', '{model: intent-classifier, range: ^2.0.0, relation: adapter}'),
  );
  write(repo, 'models/pii-q4/model.yaml', modelYaml('pii-q4'));
  write(
    repo,
    'models/pii-q4/versions/1.0.0.yaml',
    card('pii-q4', '1.0.0', '{model: pii-scrubber, range: ~1.4.1, relation: quantized}'),
  );
  for (const env of ['staging', 'production'])
    edit(repo, `environments/${env}.yaml`, (t) => `${t}  support-lora: 1.2.0\n  pii-q4: 1.0.0\n`);
  return repo;
}

describe('buildManifest with adapters and derived models', () => {
  it("carries the card's base on the version and, for an adapter, the base it runs on in each environment", () => {
    const repo = withAdapter();
    const checked = validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: 1 << 20 }));
    expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const m = buildManifest(checked.registry, header);
    expect(m.models['support-lora']!.versions['1.2.0']!.base).toEqual({
      model: 'intent-classifier',
      range: '^2.0.0',
      relation: 'adapter',
    });
    // Resolved per environment: the base's champion there.
    expect(m.environments.production!.models['support-lora']!.base).toEqual({
      model: 'intent-classifier',
      version: '2.0.0',
      range: '^2.0.0',
      relation: 'adapter',
    });
    expect(m.environments.staging!.models['support-lora']!.base).toMatchObject({ version: '2.1.0' });
    // A quantized model stands alone: provenance on the version, nothing to resolve in the environment.
    expect(m.models['pii-q4']!.versions['1.0.0']!.base).toEqual({
      model: 'pii-scrubber',
      range: '~1.4.1',
      relation: 'quantized',
    });
    expect(m.environments.production!.models['pii-q4']!.base).toBeUndefined();
    expect(m.environments.production!.models['pii-scrubber']!.base).toBeUndefined();
    expect(validateManifest(m)).toBe(true);
    expect(validateManifest(environmentSlice(m, 'production'))).toBe(true);
    // Still canonical and deterministic.
    const bytes = serialiseManifest(m);
    expect(bytes.toString()).toBe(canonicalJson(JSON.parse(bytes.toString())));
    expect(serialiseManifest(buildManifest(registry(withAdapter()), header)).equals(bytes)).toBe(true);
  });

  it('leaves manifests without derived models byte-for-byte as they were', () => {
    const m = buildManifest(registry(FLEET), header);
    expect(serialiseManifest(m).toString()).not.toContain('"base"');
  });

  it('refuses a manifest whose deployment base is malformed, through the schema', () => {
    const m = buildManifest(registry(withAdapter()), header);
    const bad = structuredClone(m);
    bad.environments.production!.models['support-lora']!.base!.relation = 'merge';
    expect(validateManifest(bad)).toBe(false);
    const missing = structuredClone(m);
    delete (missing.environments.production!.models['support-lora']!.base as { version?: string }).version;
    expect(validateManifest(missing)).toBe(false);
    const extra = structuredClone(m);
    (extra.models['support-lora']!.versions['1.2.0']!.base as unknown as Record<string, unknown>).rank = 8;
    expect(validateManifest(extra)).toBe(false);
  });

  it('is a bug, not a manifest, when an adapter runs where its base is not deployed', () => {
    const repo = withAdapter();
    edit(repo, 'environments/staging.yaml', (t) => t.replace('  intent-classifier: 2.1.0\n', ''));
    const reg = registry(repo);
    expect(() => buildManifest(reg, header)).toThrow(
      'manifest: adapter support-lora in staging runs on intent-classifier, which is not deployed there; run validate first',
    );
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and refuses values JSON cannot hold', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }], u: undefined })).toBe('{"a":[{"c":"x","d":2}],"b":1}');
    expect(() => canonicalJson({ a: { b: Number.NaN } })).toThrow('canonical JSON cannot hold NaN at .a.b');
    expect(() => canonicalJson({ f: () => 1 })).toThrow('cannot hold a function at .f');
  });
});
