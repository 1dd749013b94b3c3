// The demo bag-of-bytes MLP (serving.engine: builtin), served in process.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntentClassifier, encode, parseModel, topProbability } from '../../demo-model/model.ts';
import { InputError, type Loader } from './engine.ts';

export interface ClassifierOutput {
  label: string;
  score: number;
}

/**
 * A thin adapter over src/demo-model (the same loader checks and the same forward pass the CPU
 * benchmark harness and training use, so the gateway and the harness predict identical labels); this
 * adds only input validation and the score.
 */
export const bagOfBytesLoader: Loader = {
  async load(versionDir, entry) {
    const weightsFile = entry.files.find((f) => f.path.endsWith('.safetensors'))?.path ?? 'model.safetensors';
    const configFile = join(versionDir, 'config.json');
    const model = parseModel(
      await readFile(configFile, 'utf8'),
      configFile,
      await readFile(join(versionDir, weightsFile)),
      weightsFile,
    );
    const net = new IntentClassifier(model);
    const one = (text: unknown): ClassifierOutput => {
      if (typeof text !== 'string' || text.length === 0) throw new InputError('each input must be a non-empty string');
      const best = net.predictIndex(encode(text));
      return { label: model.labels[best]!, score: topProbability(net.logits, best) };
    };
    return {
      info: { engine: 'builtin', controlsWeights: true, detail: weightsFile },
      // inputs: "text" | {text} | ["text", ...] (a batch gives an array of outputs)
      async predict(inputs) {
        if (Array.isArray(inputs)) return inputs.map(one);
        if (typeof inputs === 'object' && inputs !== null && 'text' in inputs)
          return one((inputs as { text: unknown }).text);
        if (typeof inputs === 'string') return one(inputs);
        throw new InputError('inputs must be a string, {"text": string} or an array of strings');
      },
      async warm() {
        one('warm-up');
      },
      async close() {},
    };
  },
};
