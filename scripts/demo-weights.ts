// Deterministic tiny weights for the example registry, so the sha256 in every example card is real:
// `node scripts/demo-weights.ts [outDir]` writes <outDir>/<model>/<version>/{model.safetensors,config.json,tokenizer.json}.
// Each version's tensors come from a seeded generator; a retrained version changes some tensors only,
// which is what tensor-level delta sync exploits.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DemoVersion { model: string; version: string; family: string; labels: string[]; vocab: number; hidden: number; seeds: Record<string, number> }

export const DEMO_VERSIONS: DemoVersion[] = [
  { model: 'intent-classifier', version: '1.0.0', family: 'mlp', labels: ['greet', 'order', 'other'], vocab: 256, hidden: 32, seeds: { embed: 1, hidden: 1, head: 1 } },
  { model: 'intent-classifier', version: '1.1.0', family: 'mlp', labels: ['greet', 'order', 'other'], vocab: 256, hidden: 32, seeds: { embed: 1, hidden: 2, head: 2 } },
  { model: 'intent-classifier', version: '2.0.0', family: 'mlp', labels: ['greet', 'order', 'cancel_order', 'other'], vocab: 256, hidden: 32, seeds: { embed: 1, hidden: 3, head: 3 } },
  { model: 'intent-classifier', version: '2.1.0', family: 'mlp', labels: ['greet', 'order', 'cancel_order', 'other'], vocab: 256, hidden: 32, seeds: { embed: 1, hidden: 4, head: 4 } },
  { model: 'pii-scrubber', version: '1.4.1', family: 'mlp', labels: ['O', 'EMAIL', 'PHONE', 'NAME'], vocab: 256, hidden: 24, seeds: { embed: 11, hidden: 11, head: 11 } },
  { model: 'pii-scrubber', version: '1.4.2', family: 'mlp', labels: ['O', 'EMAIL', 'PHONE', 'NAME'], vocab: 256, hidden: 24, seeds: { embed: 11, hidden: 11, head: 12 } },
  { model: 'structured-extractor', version: '1.0.0', family: 'mlp', labels: ['none', 'order_id', 'date', 'amount'], vocab: 256, hidden: 48, seeds: { embed: 21, hidden: 21, head: 21 } },
  { model: 'structured-extractor', version: '1.1.0', family: 'mlp', labels: ['none', 'order_id', 'date', 'amount'], vocab: 256, hidden: 48, seeds: { embed: 21, hidden: 22, head: 22 } },
];

// mulberry32: a tiny, well-known seeded PRNG; good enough for reproducible demo weights.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tensor(seed: number, count: number): Buffer {
  const r = rng(seed);
  const f = new Float32Array(count);
  for (let i = 0; i < count; i++) f[i] = (r() - 0.5) * 0.2;
  return Buffer.from(f.buffer);
}

/** A safetensors file: u64 little-endian header length, JSON header, then the tensors back to back. */
export function safetensorsBytes(tensors: { name: string; shape: number[]; data: Buffer }[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section, as the reference writer does
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t.data)]);
}

export function demoFiles(v: DemoVersion): Record<string, Buffer> {
  const tensors = [
    { name: 'embed.weight', shape: [v.vocab, v.hidden], seed: v.seeds.embed! },
    { name: 'hidden.weight', shape: [v.hidden, v.hidden], seed: v.seeds.hidden! + 1000 },
    { name: 'head.weight', shape: [v.labels.length, v.hidden], seed: v.seeds.head! + 2000 },
  ].map((t) => ({ name: t.name, shape: t.shape, data: tensor(t.seed, t.shape[0]! * t.shape[1]!) }));
  const config = { architectures: ['BagOfBytesClassifier'], model_type: v.family, vocab_size: v.vocab, hidden_size: v.hidden, id2label: Object.fromEntries(v.labels.map((l, i) => [String(i), l])) };
  const tokenizer = { type: 'bytes', vocab_size: v.vocab };
  return {
    'model.safetensors': safetensorsBytes(tensors),
    'config.json': Buffer.from(JSON.stringify(config, null, 2) + '\n'),
    'tokenizer.json': Buffer.from(JSON.stringify(tokenizer) + '\n'),
  };
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function writeDemoWeights(outDir: string): string[] {
  const written: string[] = [];
  for (const v of DEMO_VERSIONS) {
    const dir = join(outDir, v.model, v.version);
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(demoFiles(v))) writeFileSync(join(dir, name), bytes);
    written.push(dir);
  }
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? '.model-gitops/demo-weights';
  for (const d of writeDemoWeights(out)) console.log(d);
}
