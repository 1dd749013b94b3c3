// Manifests over the demo models (scripts/demo-weights.ts), with real sha256 and sizes. No vitest
// imports, so bench/ can use it too.
import { DEMO_VERSIONS, demoFiles, sha256 } from '../../scripts/demo-weights.ts';
import type { Manifest, ManifestDeployment, ManifestVersion } from '../../src/manifest.ts';

export function demoEntry(model: string, version: string): ManifestVersion {
  const v = DEMO_VERSIONS.find((d) => d.model === model && d.version === version);
  if (!v) throw new Error(`no demo version ${model}@${version}`);
  const files = Object.entries(demoFiles(v)).map(([path, bytes]) => ({ path, sha256: sha256(bytes), size: bytes.length }));
  return {
    files,
    interface: { inputs: [{ name: 'text', dtype: 'string' }], outputs: [{ name: 'label', dtype: 'string', labels: v.labels }] },
    architecture: { family: v.family, format: 'safetensors' },
    lineageDigest: `sha256:${'0'.repeat(64)}`,
  };
}

/** A manifest whose environment `env` runs `deployments`; every demo version has an entry. */
export function demoManifest(deployments: Record<string, ManifestDeployment>, options: { sequence?: number; env?: string; extraVersions?: Record<string, Record<string, ManifestVersion>> } = {}): Manifest {
  const models: Manifest['models'] = {};
  for (const v of DEMO_VERSIONS) (models[v.model] ??= { versions: {} }).versions[v.version] = demoEntry(v.model, v.version);
  for (const [m, vs] of Object.entries(options.extraVersions ?? {})) (models[m] ??= { versions: {} }).versions = { ...models[m]!.versions, ...vs };
  return {
    schemaVersion: 1,
    sequence: options.sequence ?? 1,
    publishedAt: '2026-11-24T10:00:00.000Z',
    expiresAt: '2026-12-01T10:00:00.000Z',
    source: { repository: 'acme/models', commit: 'a'.repeat(40) },
    layout: { blob: 'blobs/sha256/{sha256}', index: 'indexes/sha256/{sha256}.json' },
    environments: { [options.env ?? 'production']: { models: deployments } },
    models,
  };
}

