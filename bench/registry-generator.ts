// Generates a large, valid registry for benchmarks: N models x V versions, three environments.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

export function versionCard(model: string, version: string, i: number): string {
  return `# yaml-language-server: $schema=../../../schemas/model-version.schema.json
name: ${model}
version: ${version}
summary: Generated version ${version} of ${model} for benchmarks.
interface:
  inputs: [{name: text, dtype: string, shape: [batch]}]
  outputs: [{name: label, dtype: string, shape: [batch], labels: [a, b, c, other]}]
  tokenizer: {name: byte-tokenizer, sha256: ${hex('tok')}}
architecture: {family: mlp, parameters: ${1000 + i}, format: safetensors, dtype: f32}
artifacts:
  - {path: model.safetensors, sha256: ${hex(`${model}@${version}/w`)}, size: ${100000 + i}}
  - {path: config.json, sha256: ${hex(`${model}@${version}/c`)}, size: 220}
  - {path: tokenizer.json, sha256: ${hex('tok')}, size: 34}
lineage:
  parent: ${model}@${version}
  code: {repository: acme/training, commit: ${hex(`${model}${version}`).slice(0, 40)}}
  datasets:
    - {name: data-${i}, uri: "s3://acme/data-${i}/", sha256: ${hex(`data${i}`)}}
  hyperparameters: {learning_rate: 2.0e-5, epochs: ${1 + (i % 5)}}
  training: {started: "2026-06-08T09:00:00Z", duration_s: 1800, hardware: 1xL4}
metrics: {accuracy: 0.9${i % 10}, macro_f1: 0.8${i % 10}}
serving: {engine: builtin}
`.replace(`  parent: ${model}@${version}\n`, i === 0 ? '' : `  parent: ${model}@1.${i - 1}.0\n`);
}

export function modelCard(model: string): string {
  return `# yaml-language-server: $schema=../../schemas/model.schema.json
name: ${model}
owners: ["@acme/ml-platform"]
task: text-classification
description: Generated model ${model} for benchmarks.
`;
}

/** Writes the registry under `root`; returns the number of files written. */
export function generateRegistry(root: string, models: number, versions: number): number {
  let files = 0;
  const names: string[] = [];
  for (let m = 0; m < models; m++) {
    const model = `model-${String(m).padStart(4, '0')}`;
    names.push(model);
    mkdirSync(join(root, 'models', model, 'versions'), { recursive: true });
    writeFileSync(join(root, 'models', model, 'model.yaml'), modelCard(model));
    files++;
    for (let v = 0; v < versions; v++) {
      writeFileSync(join(root, 'models', model, 'versions', `1.${v}.0.yaml`), versionCard(model, `1.${v}.0`, v));
      files++;
    }
  }
  mkdirSync(join(root, 'environments'), { recursive: true });
  const env = (requires: string | undefined, pick: number) =>
    `${requires ? `requires: ${requires}\n` : ''}models:\n${names.map((n) => `  ${n}: 1.${Math.max(0, versions - pick)}.0\n`).join('')}`;
  writeFileSync(join(root, 'environments', 'dev.yaml'), env(undefined, 1));
  writeFileSync(join(root, 'environments', 'staging.yaml'), env('dev', 2));
  writeFileSync(join(root, 'environments', 'production.yaml'), env('staging', 3));
  return files + 3;
}
