// One continuous-evaluation run of a deployed version: check the golden set's digest, copy the
// version's artifacts out of the store (each checked against its card), run the recipe's harness on
// them, and turn the harness output into an evaluation report with the drift reference; then compare
// it with the card and the previous reports, which live in the store next to it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseHarnessOutput } from '../benchmark/harness-output.ts';
import { splitCommand } from '../benchmark/run.ts';
import { UserError } from '../lib/errors.ts';
import type { ModelCard, VersionCard } from '../registry/types.ts';
import { blobKey, evaluationKey, evaluationPrefix } from '../store/keys.ts';
import type { BlobStore } from '../store/types.ts';
import { lengthHistogram } from './counters.ts';
import {
  compareEvaluation,
  EVALUATION_CONTRACT,
  type EvaluationComparison,
  type EvaluationReport,
  parseEvaluationReport,
  verifyGoldenSet,
} from './evaluation.ts';

export interface EvaluateVersionOptions {
  repo: string;
  store: BlobStore;
  model: ModelCard;
  version: VersionCard;
  environment: string;
  role: 'champion' | 'canary';
  now?: Date;
  timeoutMs?: number;
  /** Extra environment for the harness (e.g. MODEL_GITOPS_BENCH_ITERATIONS=1 for a quick run). */
  harnessEnv?: Record<string, string>;
}

/** The golden set's reference distribution: expected labels (when the set has them) and input lengths. */
export function goldenReference(text: string, file: string): EvaluationReport['reference'] {
  const outputs: Record<string, number> = {};
  const lengths: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: any;
    try {
      row = JSON.parse(line);
    } catch {
      throw new UserError(`${file}:${i + 1}: not a JSON line`);
    }
    const input = row?.text ?? row?.prompt ?? row?.input;
    if (typeof input !== 'string') throw new UserError(`${file}:${i + 1}: no "text", "prompt" or "input" string`);
    lengths.push(input.length);
    if (typeof row.label === 'string') outputs[row.label] = (outputs[row.label] ?? 0) + 1;
  });
  if (lengths.length === 0) throw new UserError(`${file}: the golden set is empty`);
  return { requests: lengths.length, outputs, inputLength: lengthHistogram(lengths) };
}

function credentialFreeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(INPUT_|ACTIONS_)|TOKEN|SECRET|PASSWORD|^AWS_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

async function materialize(store: BlobStore, card: VersionCard, dir: string): Promise<void> {
  for (const a of card.artifacts) {
    const bytes = await store.getBytes(blobKey(a.sha256));
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== a.sha256 || bytes.length !== a.size)
      throw new UserError(
        `${card.name}@${card.version} ${a.path}: the store holds sha256 ${got} (${bytes.length} bytes), the card says ${a.sha256} (${a.size} bytes); not evaluated`,
      );
    const target = resolve(dir, a.path);
    if (!target.startsWith(`${resolve(dir)}/`))
      throw new UserError(`${card.name}@${card.version}: artifact path ${a.path} leaves the folder`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
}

export async function evaluateVersion(o: EvaluateVersionOptions): Promise<EvaluationReport> {
  const recipe = o.model.benchmark;
  const where = `models/${o.model.name}/model.yaml`;
  if (!recipe)
    throw new UserError(`${where}: no benchmark recipe, so there is no harness or golden set to evaluate with`);
  const golden = recipe.workload?.goldenSet;
  if (!golden) throw new UserError(`${where}: benchmark.workload.goldenSet is not set`);
  const goldenFile = resolve(o.repo, golden);
  const bytes = readFileSync(goldenFile);
  const sha256 = verifyGoldenSet(bytes, recipe.workload?.goldenSetSha256, where);
  const reference = goldenReference(bytes.toString('utf8'), golden);
  const work = mkdtempSync(join(tmpdir(), 'mg-eval-'));
  try {
    const modelDir = join(work, 'model');
    mkdirSync(modelDir);
    await materialize(o.store, o.version, modelDir);
    const output = join(work, 'harness.json');
    const argv = splitCommand(recipe.command).map((w) =>
      w.replaceAll('{model_dir}', modelDir).replaceAll('{golden_set}', goldenFile).replaceAll('{output}', output),
    );
    const r = spawnSync(argv[0]!, argv.slice(1), {
      cwd: o.repo,
      env: credentialFreeEnv(o.harnessEnv ?? {}),
      encoding: 'utf8',
      timeout: o.timeoutMs ?? 600_000,
      maxBuffer: 16 << 20,
    });
    if (r.status !== 0)
      throw new UserError(
        `${o.model.name}@${o.version.version}: the harness (${argv[0]}) exited with ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().slice(-500)}`,
      );
    let text: string;
    try {
      text = readFileSync(output, 'utf8');
    } catch {
      text = r.stdout;
    }
    const h = parseHarnessOutput(text, `harness output of ${o.model.name}@${o.version.version}`);
    if (h.accuracy === null)
      throw new UserError(`${o.model.name}@${o.version.version}: the harness reported no accuracy`);
    return {
      contract: EVALUATION_CONTRACT,
      model: o.model.name,
      version: o.version.version,
      environment: o.environment,
      role: o.role,
      evaluatedAt: (o.now ?? new Date()).toISOString(),
      goldenSet: { path: golden, sha256, examples: h.workload.examples },
      accuracy: h.accuracy,
      reference,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The reports of earlier runs (newest last, at most `limit`). */
export async function previousEvaluations(
  store: BlobStore,
  model: string,
  version: string,
  environment: string,
  limit = 50,
): Promise<EvaluationReport[]> {
  const keys: string[] = [];
  for await (const info of store.list(evaluationPrefix(model, version, environment))) keys.push(info.key);
  keys.sort();
  const out: EvaluationReport[] = [];
  for (const key of keys.slice(-limit))
    out.push(parseEvaluationReport((await store.getBytes(key)).toString('utf8'), key));
  return out;
}

export async function storeEvaluation(store: BlobStore, r: EvaluationReport): Promise<string> {
  const key = evaluationKey(r.model, r.version, r.environment, r.evaluatedAt);
  await store.putObject(key, `${JSON.stringify(r, null, 2)}\n`, { contentType: 'application/json', exclusive: true });
  return key;
}

export function compareWithHistory(
  report: EvaluationReport,
  card: VersionCard,
  previous: readonly EvaluationReport[],
  alpha?: number,
): EvaluationComparison {
  return compareEvaluation(report, card.metrics?.accuracy, previous, alpha);
}
