// Manifests over the demo models (scripts/demo-weights.ts), with real sha256 and sizes. No vitest
// imports, so bench/ can use it too.
import {
  manifestVersion,
  type Manifest,
  type ManifestDeployment,
  type ManifestVersion,
} from '../../src/manifest/manifest.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { validateRegistry } from '../../src/registry/validate.ts';

// The toolkit's example fleet (examples/fleet), never the repository's own models/ and environments/.
const EXAMPLE = validateRegistry(
  new WorkingTreeSource(new URL('../../examples/fleet', import.meta.url).pathname, { maxFileBytes: 1 << 20 }),
).registry;
/** Every version of the example fleet, as [model, version] pairs. */
export const DEMO_VERSION_IDS: [string, string][] = [...EXAMPLE.models.values()].flatMap((m) =>
  [...m.versions.keys()].map((v) => [m.name, v] as [string, string]),
);

/** The manifest entry of an example version, exactly as publishing would write it. */
export function demoEntry(model: string, version: string): ManifestVersion {
  const card = EXAMPLE.models.get(model)?.versions.get(version)?.card;
  if (!card) throw new Error(`no demo version ${model}@${version}`);
  return manifestVersion(card);
}

/** A manifest whose environment `env` runs `deployments`; every demo version has an entry. */
export function demoManifest(
  deployments: Record<string, ManifestDeployment>,
  options: { sequence?: number; env?: string; extraVersions?: Record<string, Record<string, ManifestVersion>> } = {},
): Manifest {
  const models: Manifest['models'] = {};
  for (const [m, v] of DEMO_VERSION_IDS) (models[m] ??= { versions: {} }).versions[v] = demoEntry(m, v);
  for (const [m, vs] of Object.entries(options.extraVersions ?? {}))
    (models[m] ??= { versions: {} }).versions = { ...models[m]!.versions, ...vs };
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
