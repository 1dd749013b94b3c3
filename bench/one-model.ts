// What the sync-side benchmarks share: a manifest publishing one model ('llm') with one file in the
// production environment, and the header of a safetensors file of equal F32 tensors, so a bench can
// write the tensors itself, one at a time, without holding the model in memory.
import type { Manifest } from '../src/manifest/manifest.ts';
import { STORE_LAYOUT } from '../src/store/keys.ts';

export interface OneModelFile {
  path: string;
  sha256: string;
  size: number;
}

export function oneModelManifest(
  sequence: number,
  version: string,
  file: OneModelFile,
  architecture: { family: string; parameters: number; format: string; dtype: string },
): Manifest {
  return {
    schemaVersion: 1,
    sequence,
    publishedAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    source: { repository: 'bench/models', commit: '0'.repeat(40) },
    layout: STORE_LAYOUT,
    environments: { production: { models: { llm: { version } } } },
    models: {
      llm: {
        versions: {
          [version]: {
            files: [{ path: file.path, sha256: file.sha256, size: file.size, index: true }],
            interface: { inputs: [], outputs: [] },
            architecture,
            lineageDigest: `sha256:${'0'.repeat(64)}`,
          } as never,
        },
      },
    },
  };
}

/** The 8-byte length and JSON header of `count` F32 tensors `layers.<i>.weight` of `tensorBytes` each. */
export function f32SafetensorsHead(count: number, tensorBytes: number): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (let i = 0; i < count; i++)
    header[`layers.${i}.weight`] = {
      dtype: 'F32',
      shape: [tensorBytes / 4],
      data_offsets: [i * tensorBytes, (i + 1) * tensorBytes],
    };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json)]);
}
