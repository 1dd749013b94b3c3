// Weights for the example registry, generated deterministically so the sha256 in every example card
// is real: `node scripts/demo-weights.ts [outDir]` writes <outDir>/<model>/<version>/{model.safetensors,
// config.json, tokenizer.json}.
// - intent-classifier: really trained (src/demo-model, pure TypeScript, seeded), so its golden-set
//   accuracy means something and 2.1.0 measurably beats 2.0.0.
// - pii-scrubber, structured-extractor: seeded random weights of the same tiny architecture; a new
//   version changes some tensors only, which is what tensor-level delta sync exploits.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelConfig, modelFiles, TOKENIZER_JSON } from '../src/demo-model/model.ts';
import { trainHistory } from '../src/demo-model/versions.ts';
import { mulberry32 } from '../src/lib/prng.ts';
import { encodeSafetensors } from '../src/formats/safetensors.ts';
import { sha256Hex } from '../src/lib/hash.ts';

export interface DemoVersion {
  model: string;
  version: string;
  labels: string[];
  hidden: number;
  seeds: { embed: number; hidden: number; head: number };
}

const VOCAB = 256;

/** The models whose weights are seeded random (the intent classifier is trained instead). */
export const RANDOM_DEMO_VERSIONS: DemoVersion[] = [
  {
    model: 'pii-scrubber',
    version: '1.4.1',
    labels: ['O', 'EMAIL', 'PHONE', 'NAME'],
    hidden: 24,
    seeds: { embed: 11, hidden: 11, head: 11 },
  },
  {
    model: 'pii-scrubber',
    version: '1.4.2',
    labels: ['O', 'EMAIL', 'PHONE', 'NAME'],
    hidden: 24,
    seeds: { embed: 11, hidden: 11, head: 12 },
  },
  {
    model: 'structured-extractor',
    version: '1.0.0',
    labels: ['none', 'order_id', 'date', 'amount'],
    hidden: 48,
    seeds: { embed: 21, hidden: 21, head: 21 },
  },
  {
    model: 'structured-extractor',
    version: '1.1.0',
    labels: ['none', 'order_id', 'date', 'amount'],
    hidden: 48,
    seeds: { embed: 21, hidden: 22, head: 22 },
  },
];

function randomTensor(seed: number, count: number): Buffer {
  const r = mulberry32(seed);
  const f = new Float32Array(count);
  for (let i = 0; i < count; i++) f[i] = (r() - 0.5) * 0.2;
  return Buffer.from(f.buffer);
}

function randomFiles(v: DemoVersion): Record<string, Buffer> {
  const shapes = [
    { name: 'embed.weight', shape: [VOCAB, v.hidden], seed: v.seeds.embed },
    { name: 'hidden.weight', shape: [v.hidden, v.hidden], seed: v.seeds.hidden + 1000 },
    { name: 'head.weight', shape: [v.labels.length, v.hidden], seed: v.seeds.head + 2000 },
  ];
  const tensors = shapes.map((t) => ({
    name: t.name,
    dtype: 'F32',
    shape: t.shape,
    data: randomTensor(t.seed, t.shape[0]! * t.shape[1]!),
  }));
  const config = modelConfig({ vocab: VOCAB, hidden: v.hidden, labels: v.labels });
  return {
    'model.safetensors': encodeSafetensors(tensors, { format: 'pt' }),
    'config.json': Buffer.from(`${JSON.stringify(config, null, 2)}\n`),
    'tokenizer.json': Buffer.from(TOKENIZER_JSON),
  };
}

/** Every example version's files, by `model/version`. */
export function demoWeights(): Map<string, Record<string, Buffer>> {
  const out = new Map<string, Record<string, Buffer>>();
  for (const [version, r] of trainHistory()) out.set(`intent-classifier/${version}`, modelFiles(r.model));
  for (const v of RANDOM_DEMO_VERSIONS) out.set(`${v.model}/${v.version}`, randomFiles(v));
  return out;
}

export { sha256Hex as sha256 };

export function writeDemoWeights(outDir: string): string[] {
  const written: string[] = [];
  for (const [id, files] of demoWeights()) {
    const dir = join(outDir, id);
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    written.push(dir);
  }
  return written;
}

if (import.meta.main) {
  const out = process.argv[2] ?? '.model-gitops/demo-weights';
  for (const d of writeDemoWeights(out)) console.log(d);
}
