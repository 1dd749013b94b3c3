// Deterministic training of the demo intent classifier: seeded initialisation, a seeded but fixed
// example order, plain SGD on softmax cross-entropy, every value stored as float32. Same inputs on the
// same Node => the same bytes. A child version starts from its parent's weights (head rows matched by
// label name), which is how 2.0.0 adds a label while keeping what 1.1.0 learned.
import { mulberry32, shuffle } from '../lib/prng.ts';
import { type Example, generateIntents } from './dataset.ts';
import { IntentClassifier, type IntentModel, encode } from './model.ts';

export interface TrainOptions {
  labels: readonly string[];
  seed: number;
  epochs: number;
  lr: number;
  parent?: IntentModel;
  /** Training examples; default: generateIntents({seed, count: 1200, labels}). */
  data?: Example[];
  hidden?: number;
}

export interface TrainResult {
  model: IntentModel;
  loss: number[];
  examples: number;
}

export function trainIntentClassifier(o: TrainOptions): TrainResult {
  const H = o.hidden ?? o.parent?.hidden ?? 32;
  const V = 256;
  const L = o.labels.length;
  const rng = mulberry32(o.seed);
  const uniform = (n: number, scale: number) => {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = (rng() * 2 - 1) * scale;
    return f;
  };
  let model: IntentModel;
  if (o.parent) {
    if (o.parent.hidden !== H) throw new Error(`parent hidden size ${o.parent.hidden} differs from ${H}`);
    const head = uniform(L * H, 1 / Math.sqrt(H));
    o.labels.forEach((l, i) => {
      const p = o.parent!.labels.indexOf(l);
      if (p >= 0) head.set(o.parent!.head.subarray(p * H, (p + 1) * H), i * H);
    });
    model = {
      labels: [...o.labels],
      vocab: V,
      hidden: H,
      embed: o.parent.embed.slice(),
      hiddenW: o.parent.hiddenW.slice(),
      head,
    };
  } else {
    model = {
      labels: [...o.labels],
      vocab: V,
      hidden: H,
      embed: uniform(V * H, 1),
      hiddenW: uniform(H * H, 1 / Math.sqrt(H)),
      head: uniform(L * H, 1 / Math.sqrt(H)),
    };
  }
  const data = o.data ?? generateIntents({ seed: o.seed, count: 1200, labels: o.labels });
  const encoded = data.map((e) => {
    const y = model.labels.indexOf(e.label);
    if (y < 0) throw new Error(`training example label "${e.label}" is not one of ${model.labels.join(', ')}`);
    return { bytes: encode(e.text), y };
  });
  const net = new IntentClassifier(model);
  const p = new Float32Array(L),
    da = new Float32Array(H),
    dz = new Float32Array(H),
    dx = new Float32Array(H);
  const order = encoded.map((_, i) => i);
  const loss: number[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    shuffle(rng, order);
    let total = 0;
    for (const idx of order) {
      const { bytes, y } = encoded[idx]!;
      const logits = net.forward(bytes);
      let max = -Infinity;
      for (let l = 0; l < L; l++) max = Math.max(max, logits[l]!);
      let sum = 0;
      for (let l = 0; l < L; l++) {
        p[l] = Math.exp(logits[l]! - max);
        sum += p[l]!;
      }
      for (let l = 0; l < L; l++) p[l]! /= sum;
      total += -Math.log(Math.max(p[y]!, 1e-12));
      p[y]! -= 1; // dL/dlogits
      // head: dU = p ⊗ a ; da = U^T p
      da.fill(0);
      for (let l = 0; l < L; l++) {
        const g = p[l]!;
        for (let j = 0; j < H; j++) {
          da[j]! += model.head[l * H + j]! * g;
          model.head[l * H + j]! -= o.lr * g * net.a[j]!;
        }
      }
      for (let j = 0; j < H; j++) dz[j] = da[j]! * (1 - net.a[j]! * net.a[j]!);
      // hidden: dW = dz ⊗ x ; dx = W^T dz
      dx.fill(0);
      for (let r = 0; r < H; r++) {
        const g = dz[r]!;
        for (let j = 0; j < H; j++) {
          dx[j]! += model.hiddenW[r * H + j]! * g;
          model.hiddenW[r * H + j]! -= o.lr * g * net.x[j]!;
        }
      }
      // embedding rows: each byte occurrence receives dx / n
      if (bytes.length > 0) {
        const s = o.lr / bytes.length;
        for (let i = 0; i < bytes.length; i++) {
          const row = bytes[i]! * H;
          for (let j = 0; j < H; j++) model.embed[row + j]! -= s * dx[j]!;
        }
      }
    }
    loss.push(total / order.length);
  }
  return { model, loss, examples: encoded.length };
}

export interface Evaluation {
  accuracy: number;
  macroF1: number;
  examples: number;
  confusion: Record<string, Record<string, number>>;
}

/** Accuracy and macro-F1 over the gold labels (a label the model lacks counts as always wrong). */
export function evaluate(model: IntentModel, examples: Example[]): Evaluation {
  const net = new IntentClassifier(model);
  const gold = [...new Set(examples.map((e) => e.label))].sort();
  const confusion: Record<string, Record<string, number>> = {};
  let correct = 0;
  for (const e of examples) {
    const pred = model.labels[net.predictIndex(encode(e.text))]!;
    if (pred === e.label) correct++;
    const row = (confusion[e.label] ??= {});
    row[pred] = (row[pred] ?? 0) + 1;
  }
  let f1 = 0;
  for (const l of gold) {
    const tp = confusion[l]?.[l] ?? 0;
    const fn = Object.values(confusion[l] ?? {}).reduce((a, b) => a + b, 0) - tp;
    const fp = gold.reduce((a, g) => a + (g === l ? 0 : (confusion[g]?.[l] ?? 0)), 0);
    f1 += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return { accuracy: correct / examples.length, macroF1: f1 / gold.length, examples: examples.length, confusion };
}
