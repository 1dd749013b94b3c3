// The demo intent-classifier's version history, as training runs: each version names its parent, the
// seed of its (generated) monthly dataset and its hyperparameters. scripts/train-demo.ts replays it.
import { INTENT_LABELS } from './dataset.ts';
import type { IntentModel } from './model.ts';
import { type TrainResult, trainIntentClassifier } from './train.ts';

export interface DemoTraining {
  version: string;
  parent?: string;
  labels: readonly string[];
  seed: number;
  epochs: number;
  lr: number;
  dataset: string;
}

const THREE = ['greet', 'order', 'other'] as const;

export const INTENT_CLASSIFIER_HISTORY: DemoTraining[] = [
  { version: '1.0.0', labels: THREE, seed: 202603, epochs: 2, lr: 0.05, dataset: 'intents-2026-03' },
  { version: '1.1.0', parent: '1.0.0', labels: THREE, seed: 202604, epochs: 5, lr: 0.05, dataset: 'intents-2026-04' },
  {
    version: '2.0.0',
    parent: '1.1.0',
    labels: INTENT_LABELS,
    seed: 202605,
    epochs: 3,
    lr: 0.05,
    dataset: 'intents-2026-05',
  },
  {
    version: '2.1.0',
    parent: '2.0.0',
    labels: INTENT_LABELS,
    seed: 202606,
    epochs: 8,
    lr: 0.05,
    dataset: 'intents-2026-06',
  },
];

/** Trains every version in order (children start from their parent); deterministic. */
export function trainHistory(history = INTENT_CLASSIFIER_HISTORY): Map<string, TrainResult & { spec: DemoTraining }> {
  const out = new Map<string, TrainResult & { spec: DemoTraining }>();
  for (const spec of history) {
    let parent: IntentModel | undefined;
    if (spec.parent !== undefined) {
      parent = out.get(spec.parent)?.model;
      if (!parent) throw new Error(`version ${spec.version}: parent ${spec.parent} is not trained before it`);
    }
    const r = trainIntentClassifier({
      labels: spec.labels,
      seed: spec.seed,
      epochs: spec.epochs,
      lr: spec.lr,
      ...(parent ? { parent } : {}),
    });
    out.set(spec.version, { ...r, spec });
  }
  return out;
}
