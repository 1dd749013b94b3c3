// Trains the demo intent-classifier versions for real (pure TypeScript, deterministic) and writes
// their folders, plus the golden set the benchmark gate measures accuracy on:
//   node scripts/train-demo.ts [outDir=.model-gitops/demo-weights] [--golden benchmarks/golden/intents.jsonl]
// Prints the card fields each version needs (artifacts sha256/size, parameters, metrics), so the
// example registry can be switched to these bytes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { goldenIntents, toJsonl } from '../src/demo-model/dataset.ts';
import { modelFiles, parameterCount } from '../src/demo-model/model.ts';
import { evaluate } from '../src/demo-model/train.ts';
import { trainHistory } from '../src/demo-model/versions.ts';
import { sha256Hex as sha256 } from '../src/lib/hash.ts';

export function writeGoldenSet(file: string): string {
  const text = toJsonl(goldenIntents());
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  const digest = sha256(text);
  writeFileSync(`${file}.sha256`, `${digest}  ${file.split('/').pop()}\n`);
  return digest;
}

/** Writes <outDir>/intent-classifier/<version>/ for every demo version; returns the card fields. */
export function writeTrainedDemo(outDir: string) {
  const golden = goldenIntents();
  const cards = [];
  for (const [version, r] of trainHistory()) {
    const dir = join(outDir, 'intent-classifier', version);
    mkdirSync(dir, { recursive: true });
    const files = modelFiles(r.model);
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const ev = evaluate(r.model, golden);
    cards.push({
      version,
      dir,
      artifacts: Object.entries(files).map(([path, b]) => ({ path, sha256: sha256(b), size: b.length })),
      parameters: parameterCount(r.model),
      metrics: { accuracy: Number(ev.accuracy.toFixed(4)), macro_f1: Number(ev.macroF1.toFixed(4)) },
      hyperparameters: { learning_rate: r.spec.lr, epochs: r.spec.epochs, seed: r.spec.seed },
      dataset: r.spec.dataset,
      finalLoss: Number(r.loss.at(-1)!.toFixed(4)),
    });
  }
  return cards;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const gi = args.indexOf('--golden');
  const goldenFile = gi >= 0 ? args.splice(gi, 2)[1]! : 'benchmarks/golden/intents.jsonl';
  const out = args[0] ?? '.model-gitops/demo-weights';
  const golden = writeGoldenSet(goldenFile);
  console.log(`golden set ${goldenFile}  sha256 ${golden}\n`);
  for (const c of writeTrainedDemo(out)) {
    console.log(
      `# models/intent-classifier/versions/${c.version}.yaml  (${c.dir}; dataset ${c.dataset}, final loss ${c.finalLoss})`,
    );
    console.log(`architecture: {family: mlp, parameters: ${c.parameters}, format: safetensors, dtype: f32}`);
    console.log('artifacts:');
    for (const a of c.artifacts) console.log(`  - {path: ${a.path}, sha256: ${a.sha256}, size: ${a.size}}`);
    console.log(
      `  hyperparameters: {learning_rate: ${c.hyperparameters.learning_rate}, epochs: ${c.hyperparameters.epochs}, seed: ${c.hyperparameters.seed}}`,
    );
    console.log(`metrics: {accuracy: ${c.metrics.accuracy}, macro_f1: ${c.metrics.macro_f1}}\n`);
  }
}
