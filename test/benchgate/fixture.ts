// A registry whose intent-classifier cards point at really trained demo weights, a folder of those
// weights (the materializer's root), and a recipe that runs the CPU harness.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelFiles } from '../../src/demo-model/model.ts';
import { trainHistory } from '../../src/demo-model/versions.ts';
import { ROOT, exampleRepo, tempDir } from '../helpers.ts';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

let trained: Map<string, Record<string, Buffer>> | undefined;
export function trainedFiles(): Map<string, Record<string, Buffer>> {
  trained ??= new Map([...trainHistory()].map(([v, r]) => [v, modelFiles(r.model)]));
  return trained;
}

export interface BenchFixture {
  repo: string;
  weights: string;
  goldenSha: string;
}

export interface FixtureOptions {
  runs?: number;
  thresholds?: string;
  regression?: string;
  runner?: string;
  command?: string;
  batchSizes?: string;
}

/** A registry repo (trusted and pull-request side alike) plus a weights folder for intent-classifier. */
export function benchFixture(o: FixtureOptions = {}): BenchFixture {
  const repo = exampleRepo();
  symlinkSync(join(ROOT, 'benchmarks'), join(repo, 'benchmarks'));
  const weights = tempDir('mg-weights-');
  const goldenSha = sha(readFileSync(join(ROOT, 'benchmarks/golden/intents.jsonl')));
  for (const [version, files] of trainedFiles()) {
    const dir = join(weights, 'intent-classifier', version);
    mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
    const card = join(repo, 'models/intent-classifier/versions', `${version}.yaml`);
    let text = readFileSync(card, 'utf8');
    for (const [name, bytes] of Object.entries(files)) {
      text = text.replace(
        new RegExp(`\\{path: ${name.replace('.', '\\.')}, sha256: [0-9a-f]{64}, size: \\d+\\}`),
        `{path: ${name}, sha256: ${sha(bytes)}, size: ${bytes.length}}`,
      );
    }
    writeFileSync(card, text);
  }
  const modelYaml = join(repo, 'models/intent-classifier/model.yaml');
  const text = readFileSync(modelYaml, 'utf8').replace(
    /benchmark:[\s\S]*$/,
    [
      'benchmark:',
      `  command: ${o.command ?? 'node benchmarks/cpu/harness.ts --model-dir {model_dir} --golden {golden_set} --iterations 2'}`,
      `  runner: ${o.runner ?? '[self-hosted, cpu]'}`,
      `  workload: {goldenSet: benchmarks/golden/intents.jsonl, goldenSetSha256: ${goldenSha}, batchSizes: [${o.batchSizes ?? '1, 8'}], warmup: 1, runs: ${o.runs ?? 6}, seed: 7}`,
      '  thresholds:',
      `    ${o.thresholds ?? 'accuracy: {min: 0.9}'}`,
      '  regression:',
      `    ${o.regression ?? 'accuracy: 1%'}`,
      '',
    ].join('\n'),
  );
  writeFileSync(modelYaml, text);
  return { repo, weights, goldenSha };
}
