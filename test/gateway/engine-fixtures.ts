// Version folders for the engine tests: tiny llama GGUFs (different seeds, different weights) and
// their manifest entries with real sha256 and sizes, so FolderVersionSource verifies them as it would
// synced versions.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../src/lib/hash.ts';
import type { ManifestVersion } from '../../src/manifest/manifest.ts';
import { tinyLlamaGguf } from '../helpers/llama-gguf.ts';

/** Writes `root/<model>/<version>/<name>` and returns the entry naming it. */
export function versionFiles(
  root: string,
  model: string,
  version: string,
  files: Record<string, Buffer | string>,
  serving: ManifestVersion['serving'],
  format = 'gguf',
): ManifestVersion {
  const dir = join(root, model, version);
  mkdirSync(dir, { recursive: true });
  const list = Object.entries(files).map(([path, data]) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    writeFileSync(join(dir, path), bytes);
    return { path, sha256: sha256Hex(bytes), size: bytes.length };
  });
  return {
    files: list,
    interface: { inputs: [{ name: 'messages', dtype: 'json' }], outputs: [{ name: 'text', dtype: 'string' }] },
    architecture: { family: 'llama', format },
    lineageDigest: `sha256:${'2'.repeat(64)}`,
    serving,
  };
}

/** A llama.cpp version: model.gguf from tinyLlamaGguf({seed}). */
export function llamaVersion(root: string, model: string, version: string, seed: number): ManifestVersion {
  return versionFiles(root, model, version, { 'model.gguf': tinyLlamaGguf({ seed }) }, { engine: 'llama.cpp' });
}

/** Whether an optional engine is present here; in CI (CI=true) a missing one is a failure, not a skip. */
export function requireInCi(present: boolean, what: string, install: string): boolean {
  if (!present && process.env.CI === 'true')
    throw new Error(`${what} is missing in CI; .ci/run must install it (${install})`);
  return present;
}
