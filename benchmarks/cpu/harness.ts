// CPU benchmark harness for the demo text classifiers (runs in CI, no GPU, no network).
//   node benchmarks/cpu/harness.ts --model-dir DIR --golden FILE [--batch-sizes 1,8,32] [--warmup 3]
//        [--iterations 5] [--seed 7] [--output FILE] [--bare] [--measure-overhead]
// Loads a version folder (model.safetensors + config.json) from disk only, runs the golden set with
// warm-up and timed passes per batch size, and writes one JSON document in the harness-output
// contract (schemas/harness-output.schema.json) to --output, $MODEL_GITOPS_HARNESS_OUTPUT or stdout.
// Options default to the MODEL_GITOPS_BENCH_* variables the run-benchmark action sets.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { parseJsonl } from '../../src/demo-model/dataset.ts';
import { IntentClassifier, loadModelDir, parameterCount } from '../../src/demo-model/model.ts';
import { mulberry32, shuffle } from '../../src/lib/prng.ts';
import { sha256Hex } from '../../src/lib/hash.ts';

const HARNESS_VERSION = '1';
const env = process.env;

function intList(s: string, what: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || !out.every((n) => Number.isSafeInteger(n) && n >= 1))
    throw new Error(`${what} must be a comma-separated list of positive integers, got "${s}"`);
  return out;
}
function int(s: string, what: string, min: number): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${what} must be an integer >= ${min}, got "${s}"`);
  return n;
}

function distribution(values: Float64Array) {
  const s = values.slice().sort();
  const at = (p: number) => {
    const rank = (p / 100) * (s.length - 1);
    const lo = Math.floor(rank),
      hi = Math.ceil(rank);
    return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
  };
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: at(50), p95: at(95), p99: at(99), mean: sum / s.length, min: s[0]!, max: s[s.length - 1]! };
}

const peakRss = () => process.resourceUsage().maxRSS * 1024;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'model-dir': { type: 'string' },
      golden: { type: 'string' },
      'batch-sizes': { type: 'string' },
      warmup: { type: 'string' },
      iterations: { type: 'string' },
      seed: { type: 'string' },
      output: { type: 'string' },
      bare: { type: 'boolean', default: false },
      'measure-overhead': { type: 'boolean', default: false },
      'overhead-reps': { type: 'string' },
    },
    strict: true,
  });
  const started = performance.now();
  const modelDir = values['model-dir'];
  if (!modelDir)
    throw new Error('--model-dir is required (the version folder holding model.safetensors and config.json)');
  const goldenFile = values.golden ?? env.MODEL_GITOPS_GOLDEN_SET;
  if (!goldenFile) throw new Error('--golden is required (a JSONL file of {"text", "label"} lines)');
  const batchSizes = intList(values['batch-sizes'] ?? env.MODEL_GITOPS_BENCH_BATCH_SIZES ?? '1', '--batch-sizes');
  const warmup = int(values.warmup ?? env.MODEL_GITOPS_BENCH_WARMUP ?? '3', '--warmup', 0);
  const iterations = int(values.iterations ?? env.MODEL_GITOPS_BENCH_ITERATIONS ?? '5', '--iterations', 1);
  const seed = int(values.seed ?? env.MODEL_GITOPS_BENCH_SEED ?? '0', '--seed', 0);
  const output = values.output ?? env.MODEL_GITOPS_HARNESS_OUTPUT;
  const overheadReps = int(values['overhead-reps'] ?? '15', '--overhead-reps', 1);

  const goldenBytes = readFileSync(goldenFile);
  const golden = parseJsonl(goldenBytes.toString('utf8'), goldenFile);
  if (golden.length === 0) throw new Error(`${goldenFile}: the golden set is empty`);
  const model = loadModelDir(modelDir);
  const clf = new IntentClassifier(model);
  // The example order is seeded so every run and both versions see the same sequence of batches.
  const examples = shuffle(mulberry32(seed), [...golden]);
  const texts = examples.map((e) => e.text);

  let errors = 0;
  let correct = 0;
  let accuracyCounted = false;
  const results = [];
  const overhead = [];
  for (const bs of batchSizes) {
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += bs) batches.push(texts.slice(i, i + bs));
    for (let w = 0; w < warmup; w++) for (const b of batches) clf.predict(b);

    // Bare pass: the model calls alone under one timer (what the harness's timing is compared to).
    const barePass = () => {
      const t0 = performance.now();
      for (const b of batches) clf.predict(b);
      return performance.now() - t0;
    };
    // Harness pass: a timer around every call, predictions kept for accuracy, failures counted.
    // Two clock reads per call on purpose: chaining them (one call's end = the next one's start), as the
    // Python harnesses do, let V8 inline clf.predict into this loop and made it ~20% slower at every batch
    // size (gone with --no-turbo-inlining), far more than the ~50 ns a clock read costs.
    const lat = new Float64Array(batches.length * iterations);
    const preds: (string[] | undefined)[] = new Array(batches.length);
    let k = 0;
    const harnessPass = () => {
      const t0 = performance.now();
      for (let i = 0; i < batches.length; i++) {
        const s = performance.now();
        let p: string[] | undefined;
        try {
          p = clf.predict(batches[i]!);
        } catch {
          p = undefined;
        }
        lat[k++ % lat.length] = performance.now() - s;
        preds[i] = p;
      }
      return performance.now() - t0;
    };

    let timed = 0;
    if (values.bare) {
      for (let it = 0; it < iterations; it++) {
        const ms = barePass();
        timed += ms;
        lat[it] = ms / batches.length; // only a mean per call is known in bare mode
      }
    } else {
      for (let it = 0; it < iterations; it++) timed += harnessPass();
    }
    const samples = values.bare ? lat.subarray(0, iterations) : lat;
    if (!values.bare && !accuracyCounted) {
      let idx = 0;
      batches.forEach((b, i) => {
        const p = preds[i];
        for (let j = 0; j < b.length; j++, idx++) {
          if (p === undefined) errors++;
          else if (p[j] === examples[idx]!.label) correct++;
        }
      });
      accuracyCounted = true;
    }
    if (values['measure-overhead']) {
      const h = new Float64Array(overheadReps),
        b = new Float64Array(overheadReps);
      // Interleaved and alternating which goes first, so drift and cache effects fall on both.
      for (let r = 0; r < overheadReps; r++) {
        if (r % 2 === 0) {
          h[r] = harnessPass();
          b[r] = barePass();
        } else {
          b[r] = barePass();
          h[r] = harnessPass();
        }
      }
      const hd = distribution(h),
        bd = distribution(b);
      // The minimum is reported too: on a shared machine it is the least disturbed pass of each kind.
      overhead.push({
        batchSize: bs,
        harness_ms: hd.p50,
        bare_ms: bd.p50,
        ratio: hd.p50 / bd.p50,
        reps: overheadReps,
        min_ratio: hd.min / bd.min,
      });
    }
    results.push({
      batchSize: bs,
      samples: samples.length,
      latency_ms: distribution(samples),
      throughput_per_s: (texts.length * iterations) / (timed / 1000),
      peak_memory_bytes: peakRss(),
    });
  }
  if (values.bare) {
    // Accuracy still comes from an untimed pass, so a bare run reports the same contract.
    for (let i = 0; i < texts.length; i++) if (clf.predict([texts[i]!])[0] === examples[i]!.label) correct++;
  }
  const doc = {
    contract: 'model-gitops/harness-output@1',
    harness: {
      name: 'cpu-node',
      version: HARNESS_VERSION,
      mode: values.bare ? 'bare' : 'full',
      runtime: `node ${process.versions.node}`,
      timer: 'performance.now',
    },
    device: { kind: 'cpu', name: cpus()[0]?.model.trim() ?? 'unknown CPU' },
    model: { dir: modelDir, parameters: parameterCount(model), dtype: 'f32', labels: model.labels },
    workload: {
      goldenSet: goldenFile,
      goldenSetSha256: sha256Hex(goldenBytes),
      examples: texts.length,
      batchSizes,
      warmup,
      iterations,
      seed,
    },
    accuracy: correct / texts.length,
    errors,
    peak_memory_bytes: peakRss(),
    results,
    ...(overhead.length ? { overhead } : {}),
    duration_ms: performance.now() - started,
  };
  const json = JSON.stringify(doc, null, 2) + '\n';
  if (output) writeFileSync(output, json);
  else process.stdout.write(json);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`harness: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 2;
    },
  );
}
