// The demo intent classifier: bytes of the text -> mean of their embedding rows -> tanh(hidden) ->
// head -> argmax. Tensors follow PyTorch's layout (Linear weight is [out, in]) so the same
// safetensors file loads in the PyTorch harness. All arithmetic stores into Float32Arrays.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from './f32-tensors.ts';

export interface IntentModel {
  labels: string[];
  vocab: number;
  hidden: number;
  /** embed.weight [vocab, hidden] */
  embed: Float32Array;
  /** hidden.weight [hidden, hidden] */
  hiddenW: Float32Array;
  /** head.weight [labels, hidden] */
  head: Float32Array;
}

export function parameterCount(m: IntentModel): number {
  return m.embed.length + m.hiddenW.length + m.head.length;
}

const encoder = new TextEncoder();

export function encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Forward pass with reusable scratch buffers; `trace` keeps the activations training needs. */
export class IntentClassifier {
  readonly x: Float32Array;
  readonly a: Float32Array;
  readonly logits: Float32Array;
  readonly model: IntentModel;
  constructor(model: IntentModel) {
    this.model = model;
    this.x = new Float32Array(model.hidden);
    this.a = new Float32Array(model.hidden);
    this.logits = new Float32Array(model.labels.length);
  }

  /** Fills this.x (mean embedding), this.a (tanh activations) and this.logits. */
  forward(bytes: Uint8Array): Float32Array {
    const { embed, hiddenW, head, hidden: H, labels } = this.model;
    const x = this.x,
      a = this.a,
      logits = this.logits;
    x.fill(0);
    for (let i = 0; i < bytes.length; i++) {
      const row = bytes[i]! * H;
      for (let j = 0; j < H; j++) x[j]! += embed[row + j]!;
    }
    if (bytes.length > 0) for (let j = 0; j < H; j++) x[j]! /= bytes.length;
    for (let o = 0; o < H; o++) {
      let s = 0;
      const row = o * H;
      for (let j = 0; j < H; j++) s = Math.fround(s + Math.fround(hiddenW[row + j]! * x[j]!));
      a[o] = Math.tanh(s);
    }
    for (let l = 0; l < labels.length; l++) {
      let s = 0;
      const row = l * H;
      for (let j = 0; j < H; j++) s = Math.fround(s + Math.fround(head[row + j]! * a[j]!));
      logits[l] = s;
    }
    return logits;
  }

  predictIndex(bytes: Uint8Array): number {
    const logits = this.forward(bytes);
    let best = 0;
    for (let l = 1; l < logits.length; l++) if (logits[l]! > logits[best]!) best = l;
    return best;
  }

  /** The model call a server makes: texts in, labels out. */
  predict(texts: readonly string[]): string[] {
    return texts.map((t) => this.model.labels[this.predictIndex(encode(t))]!);
  }
}

export function modelConfig(m: Pick<IntentModel, 'labels' | 'vocab' | 'hidden'>): Record<string, unknown> {
  return {
    architectures: ['BagOfBytesClassifier'],
    model_type: 'mlp',
    vocab_size: m.vocab,
    hidden_size: m.hidden,
    id2label: Object.fromEntries(m.labels.map((l, i) => [String(i), l])),
  };
}

export const TOKENIZER_JSON = JSON.stringify({ type: 'bytes', vocab_size: 256 }) + '\n';

/** The files of one version folder, byte-for-byte what the registry's cards hash. */
export function modelFiles(m: IntentModel): Record<string, Buffer> {
  return {
    'model.safetensors': writeSafetensors([
      { name: 'embed.weight', shape: [m.vocab, m.hidden], data: m.embed },
      { name: 'hidden.weight', shape: [m.hidden, m.hidden], data: m.hiddenW },
      { name: 'head.weight', shape: [m.labels.length, m.hidden], data: m.head },
    ]),
    'config.json': Buffer.from(JSON.stringify(modelConfig(m), null, 2) + '\n'),
    'tokenizer.json': Buffer.from(TOKENIZER_JSON),
  };
}

/** Loads a version folder (model.safetensors + config.json); errors name the file and the field. */
export function loadModelDir(dir: string, weightsFile = 'model.safetensors'): IntentModel {
  const configFile = join(dir, 'config.json');
  let configText: string;
  try {
    configText = readFileSync(configFile, 'utf8');
  } catch (e) {
    throw new Error(`${configFile}: cannot read: ${(e as Error).message}`);
  }
  const file = join(dir, weightsFile);
  return parseModel(configText, configFile, readFileSync(file), file);
}

/**
 * The model from the bytes of its two files (callers that read asynchronously, like the gateway,
 * use this directly). Every shape is checked against config.json before any arithmetic runs.
 */
export function parseModel(configText: string, configFile: string, weights: Buffer, file: string): IntentModel {
  let config: { vocab_size?: unknown; hidden_size?: unknown; id2label?: unknown };
  try {
    config = JSON.parse(configText) as typeof config;
  } catch (e) {
    throw new Error(`${configFile}: cannot read: ${(e as Error).message}`);
  }
  const id2label = config.id2label;
  if (typeof id2label !== 'object' || id2label === null)
    throw new Error(`${configFile}: id2label must be a mapping of index -> label`);
  const entries = Object.entries(id2label as Record<string, unknown>);
  const labels = entries.map((_, i) => {
    const l = (id2label as Record<string, unknown>)[String(i)];
    if (typeof l !== 'string')
      throw new Error(`${configFile}: id2label["${i}"] must be a label string (indexes 0..${entries.length - 1})`);
    return l;
  });
  const tensors = readSafetensors(weights, file);
  const get = (name: string, shape: number[]) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: tensor ${name} is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new Error(
        `${file}: tensor ${name} has shape [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`,
      );
    return t.data;
  };
  const vocab = Number(config.vocab_size);
  const hidden = Number(config.hidden_size);
  if (!Number.isSafeInteger(vocab) || vocab < 256)
    throw new Error(`${configFile}: vocab_size must be an integer >= 256 (byte vocabulary)`);
  if (!Number.isSafeInteger(hidden) || hidden < 1)
    throw new Error(`${configFile}: hidden_size must be a positive integer`);
  return {
    labels,
    vocab,
    hidden,
    embed: get('embed.weight', [vocab, hidden]),
    hiddenW: get('hidden.weight', [hidden, hidden]),
    head: get('head.weight', [labels.length, hidden]),
  };
}

/** Softmax probability of the largest logit (what a server reports as the label's score). */
export function topProbability(logits: Float32Array, best: number): number {
  let z = 0;
  for (const l of logits) z += Math.exp(l - logits[best]!);
  return 1 / z;
}
