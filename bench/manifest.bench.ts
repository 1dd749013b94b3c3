// Manifest build time and size for generated registries (1,000 models and 50 models, 10 versions each,
// three environments that each run a different version). The number that matters for devices is the
// size of what they poll: their environment's slice (gzip as served by a CDN shown alongside).
// Usage: node bench/manifest.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildManifest, environmentSlice, serialiseManifest } from '../src/manifest/manifest.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { generateRegistry } from './registry-generator.ts';

const header = {
  sequence: 1,
  publishedAt: new Date(),
  expiresAt: new Date(Date.now() + 7 * 864e5),
  source: { repository: 'acme/models', commit: 'a'.repeat(40) },
};
const KiB = 1024;
const results: Record<string, unknown>[] = [];

for (const [models, goalBytes] of [
  [1000, 1024 * KiB],
  [50, 64 * KiB],
] as const) {
  const root = mkdtempSync(join(tmpdir(), 'mg-bench-manifest-'));
  generateRegistry(root, models, 10);
  const reg = validateRegistry(new WorkingTreeSource(root, { maxFileBytes: 1 << 20 })).registry;
  buildManifest(reg, header); // warm-up
  const t0 = performance.now();
  const runs = 5;
  let bytes: Buffer = Buffer.alloc(0);
  for (let i = 0; i < runs; i++) bytes = serialiseManifest(buildManifest(reg, header));
  const buildMs = (performance.now() - t0) / runs;
  const full = buildManifest(reg, header);
  const slice = serialiseManifest(environmentSlice(full, 'production'));
  const r = {
    models,
    buildMs: Number(buildMs.toFixed(1)),
    fullBytes: bytes.length,
    fullGzipBytes: gzipSync(bytes).length,
    polledSliceBytes: slice.length,
    polledSliceGzipBytes: gzipSync(slice).length,
    goalBytes,
    meetsGoal: slice.length < goalBytes,
  };
  results.push(r);
  console.log(
    `${models} models: build ${r.buildMs} ms; full manifest ${(r.fullBytes / KiB).toFixed(0)} KiB (gzip ${(r.fullGzipBytes / KiB).toFixed(0)} KiB); ` +
      `production slice a device polls ${(r.polledSliceBytes / KiB).toFixed(1)} KiB (gzip ${(r.polledSliceGzipBytes / KiB).toFixed(1)} KiB), goal < ${goalBytes / KiB} KiB: ${r.meetsGoal ? 'met' : 'MISSED'}`,
  );
  rmSync(root, { recursive: true, force: true });
}
console.log(JSON.stringify({ benchmark: 'manifest', results }));
