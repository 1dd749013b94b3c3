// Runs one benchmark: challenger vs champion, interleaved, on this machine, and produces the report.
// Trust split: the recipe (harness command, golden set, thresholds), the champion and the harness code
// come from the trusted repository (the base branch); only the challenger's card comes from the
// pull request, and its bytes are verified against that card before anything runs.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { artifactDigest } from '../registry/artifact-digest.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { gatedStages } from '../registry/stages.ts';
import { WorkingTreeSource } from '../registry/source.ts';
import type { BenchmarkRecipe, VersionCard } from '../registry/types.ts';
import { type ValidationResult, validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { DEFAULT_MIN_RUNS, decide } from './decision.ts';
import { type HarnessOutput, flattenMetrics, parseHarnessOutput } from './harness-output.ts';
import type { Materializer } from './materialize.ts';
import { type BenchmarkReport, buildReport } from './report.ts';
import { type ReportSink, reportKey } from './store.ts';
import { type DetectOptions, detectTestbed, testbedName } from './testbed.ts';
import type { RunRecord, Side } from './types.ts';
import { sha256Hex } from '../lib/hash.ts';

export interface RunBenchmarkOptions {
  model: string;
  /** The challenger version. */
  version: string;
  /** A version, or 'production' for the version the final stage runs on the trusted branch (registry/stages.ts). */
  champion: string;
  /** Trusted checkout: recipe, champion card, environments, harness code, golden set. Harness cwd. */
  trustedRepo: string;
  /** Checkout holding the challenger's card (the pull request's pinned head); default trustedRepo. */
  cardsRepo?: string;
  materializer: Materializer;
  /** Testbed name; default derived from the recipe's runner labels. */
  testbed?: string;
  /** Measured runs per version (default: the recipe's workload.runs, at least 6). */
  runs?: number;
  /** Discarded harness runs per version before the measured ones (default 1). */
  warmupRuns?: number;
  /** Timeout of one harness run (default 10 minutes). */
  runTimeoutMs?: number;
  sink?: ReportSink;
  reportPath?: string;
  detect?: DetectOptions;
  source?: BenchmarkReport['source'];
  log?: (line: string) => void;
  productionEnvironment?: string;
}

export interface RunBenchmarkResult {
  report: BenchmarkReport;
  key: string;
  json: string;
  harnessOutputs: HarnessOutput[];
}

function loadValid(repo: string): ValidationResult {
  return validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }));
}

function cardOf(v: ValidationResult, repo: string, model: string, version: string, what: string): VersionCard {
  const entry = v.registry.models.get(model)?.versions.get(version);
  if (!entry) {
    const related = v.diagnostics.filter((d) => d.file.startsWith(`models/${model}/`)).map(formatDiagnostic);
    throw new UserError(
      `${what} ${model}@${version}: no valid card models/${model}/versions/${version}.yaml in ${repo}${related.length ? `\n  ${related.join('\n  ')}` : ''}`,
    );
  }
  return entry.card;
}

/** Splits a command line into words: whitespace separates, single and double quotes group. No shell. */
export function splitCommand(command: string): string[] {
  const out: string[] = [];
  let cur = '',
    quote: string | undefined,
    any = false;
  for (const ch of command) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (any || cur) out.push(cur);
      cur = '';
      any = false;
      continue;
    }
    cur += ch;
  }
  if (quote) throw new UserError(`harness command has an unclosed ${quote} quote: ${command}`);
  if (any || cur) out.push(cur);
  return out;
}

/** Drops credentials from the harness's environment: it needs none, and it reads untrusted weights. */
function harnessEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(INPUT_|ACTIONS_)|TOKEN|SECRET|PASSWORD|^AWS_/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runChild(argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ChildResult> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [],
      err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      done({ code: -1, signal: null, stdout: '', stderr: e.message, ms: performance.now() - started }),
    );
    child.on('close', (code, signal) =>
      done({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: performance.now() - started,
      }),
    );
  });
}

/**
 * The champion "production" names: the version the trusted branch's final stage runs for `model`.
 * With several final stages, the one that deploys the model (or `environment` when given).
 */
function finalStageChampion(base: ValidationResult, model: string, environment: string | undefined): string {
  const envs = base.registry.environments;
  const candidates = environment !== undefined ? [environment] : gatedStages(envs, "the trusted branch's registry");
  const deploying = candidates.flatMap((env) => {
    const d = envs.get(env)?.deployments.get(model);
    return d ? [{ env, version: d.version }] : [];
  });
  if (deploying.length === 0) {
    const files = candidates.map((env) => `environments/${env}.yaml`).join(', ');
    throw new UserError(
      `champion "production": ${files} on the trusted branch does not deploy ${model}; pass an explicit champion version`,
    );
  }
  if (new Set(deploying.map((d) => d.version)).size > 1) {
    throw new UserError(
      `champion "production": the final stages run different versions of ${model} (${deploying.map((d) => `${d.env}: ${d.version}`).join(', ')}); pass an explicit champion version`,
    );
  }
  return deploying[0]!.version;
}

export async function runBenchmark(o: RunBenchmarkOptions): Promise<RunBenchmarkResult> {
  const log = o.log ?? (() => {});
  const trusted = resolve(o.trustedRepo);
  const cardsRepo = resolve(o.cardsRepo ?? o.trustedRepo);
  const base = loadValid(trusted);
  const head = cardsRepo === trusted ? base : loadValid(cardsRepo);

  const modelEntry = base.registry.models.get(o.model);
  if (!modelEntry?.card)
    throw new UserError(`model ${o.model}: no valid models/${o.model}/model.yaml on the trusted branch (${trusted})`);
  const recipe: BenchmarkRecipe | undefined = modelEntry.card.benchmark;
  if (!recipe)
    throw new UserError(
      `models/${o.model}/model.yaml has no benchmark recipe: add benchmark.command (with {model_dir}), runner, workload, thresholds and regression`,
    );

  let championVersion = o.champion;
  const selectedAs = o.champion === 'production' ? ('production' as const) : ('explicit' as const);
  if (o.champion === 'production') championVersion = finalStageChampion(base, o.model, o.productionEnvironment);
  if (championVersion === o.version)
    throw new UserError(`${o.model}@${o.version} is already the champion; there is nothing to compare it with`);
  const challengerCard = cardOf(head, cardsRepo, o.model, o.version, 'challenger');
  const championCard = cardOf(base, trusted, o.model, championVersion, 'champion');

  const w = recipe.workload ?? {};
  const runs = o.runs ?? Math.max(w.runs ?? DEFAULT_MIN_RUNS, DEFAULT_MIN_RUNS);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new UserError(`runs must be a positive whole number, got ${runs}`);
  const batchSizes = w.batchSizes ?? [1];
  const seed = w.seed ?? 0;
  const warmup = w.warmup ?? 3;
  if (!w.goldenSet)
    throw new UserError(
      `models/${o.model}/model.yaml: benchmark.workload.goldenSet is required (the golden set the harness runs)`,
    );
  if (/^[a-z][a-z0-9+.-]*:/i.test(w.goldenSet))
    throw new UserError(
      `models/${o.model}/model.yaml: benchmark.workload.goldenSet must be a path in the repository, not a URL: the benchmark machine fetches nothing from the internet`,
    );
  const goldenFile = isAbsolute(w.goldenSet) ? w.goldenSet : join(trusted, w.goldenSet);
  let goldenBytes: Buffer;
  try {
    goldenBytes = readFileSync(goldenFile);
  } catch {
    throw new UserError(
      `models/${o.model}/model.yaml: benchmark.workload.goldenSet ${w.goldenSet} does not exist in ${trusted}`,
    );
  }
  const goldenSha = sha256Hex(goldenBytes);
  if (w.goldenSetSha256 !== undefined && w.goldenSetSha256 !== goldenSha) {
    throw new UserError(
      `models/${o.model}/model.yaml: benchmark.workload.goldenSetSha256 is ${w.goldenSetSha256}, but ${w.goldenSet} hashes to ${goldenSha}`,
    );
  }
  if (!recipe.command.includes('{model_dir}'))
    throw new UserError(
      `models/${o.model}/model.yaml: benchmark.command must contain {model_dir}, where the version's folder goes`,
    );

  // Fail before spending machine time if the report cannot be written.
  if (o.reportPath) mkdirSync(dirname(resolve(o.reportPath)), { recursive: true });
  const tbName = o.testbed ?? testbedName(recipe);
  const testbed = detectTestbed(tbName, o.detect);
  log(`testbed ${tbName}: ${testbed.gpu ?? 'no GPU'}, ${testbed.cpu}`);

  log(`verifying ${o.model}@${championVersion} (champion) and ${o.model}@${o.version} (challenger)`);
  const dirs: Record<Side, string> = {
    champion: await o.materializer.materialize(o.model, championVersion, championCard),
    challenger: await o.materializer.materialize(o.model, o.version, challengerCard),
  };
  const digests: Record<Side, string> = {
    champion: artifactDigest(championCard),
    challenger: artifactDigest(challengerCard),
  };

  const scratch = mkdtempSync(join(tmpdir(), 'mg-harness-'));
  const outputs: HarnessOutput[] = [];
  const records: RunRecord[] = [];
  const timeout = o.runTimeoutMs ?? 10 * 60_000;
  let invocation = 0;
  const runOnce = async (side: Side): Promise<{ output?: HarnessOutput; error?: string; ms: number }> => {
    const outFile = join(scratch, `run-${invocation++}.json`);
    const vars: Record<string, string> = {
      model_dir: dirs[side],
      golden_set: goldenFile,
      output: outFile,
      batch_sizes: batchSizes.join(','),
      warmup: String(warmup),
      seed: String(seed),
    };
    const argv = splitCommand(recipe.command).map((word) =>
      word.replace(/\{(model_dir|golden_set|output|batch_sizes|warmup|seed)\}/g, (_, k: string) => vars[k]!),
    );
    if (argv[0] === 'node') argv[0] = process.execPath; // the same Node that runs the action
    const r = await runChild(
      argv,
      trusted,
      harnessEnv({
        MODEL_GITOPS_HARNESS_OUTPUT: outFile,
        MODEL_GITOPS_GOLDEN_SET: goldenFile,
        MODEL_GITOPS_BENCH_BATCH_SIZES: vars.batch_sizes!,
        MODEL_GITOPS_BENCH_WARMUP: vars.warmup!,
        MODEL_GITOPS_BENCH_SEED: vars.seed!,
      }),
      timeout,
    );
    if (r.code !== 0) {
      const tail = r.stderr.trim().split('\n').slice(-3).join(' | ');
      return {
        error: r.signal
          ? `harness killed by ${r.signal}${r.signal === 'SIGKILL' ? ` (timeout ${timeout} ms?)` : ''}`
          : `harness exited with ${r.code}${tail ? `: ${tail}` : ''}`,
        ms: r.ms,
      };
    }
    let text: string;
    try {
      text = readFileSync(outFile, 'utf8');
    } catch {
      text = r.stdout;
    }
    if (text.trim() === '')
      return {
        error: `harness exited 0 but wrote no output (to $MODEL_GITOPS_HARNESS_OUTPUT, {output} or stdout)`,
        ms: r.ms,
      };
    try {
      const output = parseHarnessOutput(text, `${argv.slice(0, 2).join(' ')} (${side})`);
      if (output.workload.goldenSetSha256 !== goldenSha)
        return {
          error: `harness read a golden set with sha256 ${output.workload.goldenSetSha256}, expected ${goldenSha}`,
          ms: r.ms,
        };
      const got = output.results.map((x) => x.batchSize).join(',');
      if (got !== batchSizes.join(','))
        return {
          error: `harness measured batch sizes [${got}], the recipe asks for [${batchSizes.join(',')}]`,
          ms: r.ms,
        };
      return { output, ms: r.ms };
    } catch (e) {
      return { error: (e as Error).message, ms: r.ms };
    }
  };

  try {
    const warmupRuns = o.warmupRuns ?? 1;
    for (let i = 0; i < warmupRuns; i++) {
      for (const side of ['champion', 'challenger'] as const) {
        const r = await runOnce(side);
        log(`warm-up ${side}: ${r.error ?? `${r.ms.toFixed(0)} ms`}`);
      }
    }
    // Interleaved A B A B ...: slow drift (thermals, clocks, neighbours) hits both versions alike.
    let order = 0;
    for (let i = 0; i < runs; i++) {
      for (const side of ['champion', 'challenger'] as const) {
        const r = await runOnce(side);
        const rec: RunRecord = {
          side,
          order: order++,
          testbed,
          artifactDigest: digests[side],
          metrics: r.output ? flattenMetrics(r.output) : {},
          durationMs: r.ms,
          ...(r.error !== undefined ? { error: r.error } : {}),
        };
        records.push(rec);
        if (r.output) outputs.push(r.output);
        log(
          `run ${rec.order} ${side}: ${r.error ?? `p50 ${rec.metrics.latency_p50_ms?.toFixed(4)} ms, accuracy ${rec.metrics.accuracy ?? '-'}`}`,
        );
      }
      // Both versions failed the first pair: the harness or the machine is broken; stop spending GPU time.
      if (i === 0 && records.every((r) => r.error !== undefined)) {
        log('stopping: the harness failed on both versions');
        break;
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const decision = decide({
    runs: records,
    expected: { championDigest: digests.champion, challengerDigest: digests.challenger, testbed: tbName },
    policy: {
      ...(recipe.thresholds ? { thresholds: recipe.thresholds } : {}),
      ...(recipe.regression ? { regression: recipe.regression } : {}),
      seed,
    },
  });
  const first = outputs[0];
  const report = buildReport(
    {
      model: o.model,
      version: o.version,
      artifactDigest: digests.challenger,
      champion: { version: championVersion, artifactDigest: digests.champion, selectedAs },
      testbed,
      workload: {
        goldenSet: w.goldenSet,
        goldenSetSha256: goldenSha,
        batchSizes,
        warmup,
        seed,
        runs,
        command: recipe.command,
      },
      ...(first
        ? {
            harness: {
              name: first.harness.name,
              ...(first.harness.version ? { version: first.harness.version } : {}),
              ...(first.harness.runtime ? { runtime: first.harness.runtime } : {}),
              device: first.device.name,
            },
          }
        : {}),
      records,
      decision,
      ...(o.source ? { source: o.source } : {}),
    },
    outputsByRecord(records, outputs),
    { champion: championVersion, challenger: o.version },
  );
  const json = JSON.stringify(report, null, 2) + '\n';
  const key = reportKey(o.model, o.version, tbName);
  if (o.reportPath) writeFileSync(o.reportPath, json);
  if (o.sink) await o.sink.put(key, Buffer.from(json));
  log(`verdict: ${decision.verdict}`);
  return { report, key, json, harnessOutputs: outputs };
}

/** Pairs each successful record with its harness output (they were appended in the same order). */
function outputsByRecord(records: RunRecord[], outputs: HarnessOutput[]): Map<RunRecord, HarnessOutput> {
  const m = new Map<RunRecord, HarnessOutput>();
  let i = 0;
  for (const r of records) if (r.error === undefined) m.set(r, outputs[i++]!);
  return m;
}
