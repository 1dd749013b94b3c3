// `npm run bench benchgate`: (1) the CPU harness's overhead against bare model calls over the same
// inputs in the same process (interleaved, median of reps; goal within 2%), on the trained demo
// intent-classifier 2.1.0; (2) the decision rule's false-failure rate and power on simulated runs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide } from '../src/benchmark/decision.ts';
import type { RunRecord, Testbed } from '../src/benchmark/types.ts';
import { modelFiles } from '../src/demo-model/model.ts';
import { trainHistory } from '../src/demo-model/versions.ts';
import { type Rng, gaussian, mulberry32 } from '../src/lib/prng.ts';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'mg-bench-'));
try {
  const model = join(dir, '2.1.0');
  mkdirSync(model);
  for (const [name, bytes] of Object.entries(modelFiles(trainHistory().get('2.1.0')!.model)))
    writeFileSync(join(model, name), bytes);
  const reps = Number(process.env.OVERHEAD_REPS ?? 61);
  const ratios: Record<number, number[]> = {};
  const mins: Record<number, number[]> = {};
  let last:
    | {
        overhead: { batchSize: number; harness_ms: number; bare_ms: number; ratio: number; min_ratio: number }[];
        results: { batchSize: number; latency_ms: { p50: number; p99: number }; throughput_per_s: number }[];
        peak_memory_bytes: number;
        accuracy: number;
      }
    | undefined;
  for (let proc = 0; proc < 3; proc++) {
    const out = join(dir, `out-${proc}.json`);
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'benchmarks/cpu/harness.ts'),
        '--model-dir',
        model,
        '--golden',
        join(root, 'benchmarks/golden/intents.jsonl'),
        '--batch-sizes',
        '1,8,32',
        '--warmup',
        '20',
        '--iterations',
        '5',
        '--measure-overhead',
        '--overhead-reps',
        String(reps),
        '--output',
        out,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    last = JSON.parse(readFileSync(out, 'utf8')) as typeof last;
    for (const o of last!.overhead) {
      (ratios[o.batchSize] ??= []).push(o.ratio);
      (mins[o.batchSize] ??= []).push(o.min_ratio);
    }
  }
  console.log(
    `\nCPU harness overhead (intent-classifier 2.1.0, 400 golden examples, ${reps} interleaved reps x 3 processes)`,
  );
  console.log(
    '| batch | harness pass (median) | bare pass (median) | median ratio per process | min/min ratio per process | median of medians |',
  );
  console.log('| ---: | ---: | ---: | --- | --- | ---: |');
  for (const o of last!.overhead) {
    const rs = ratios[o.batchSize]!.slice().sort((a, b) => a - b);
    console.log(
      `| ${o.batchSize} | ${o.harness_ms.toFixed(2)} ms | ${o.bare_ms.toFixed(2)} ms | ${ratios[o.batchSize]!.map((x) => x.toFixed(3)).join(', ')} | ${mins[o.batchSize]!.map((x) => x.toFixed(3)).join(', ')} | **${rs[1]!.toFixed(3)}** |`,
    );
  }
  console.log(`\nlast run: accuracy ${last!.accuracy}, peak RSS ${(last!.peak_memory_bytes / 2 ** 20).toFixed(0)} MiB`);
  for (const r of last!.results)
    console.log(
      `  batch ${r.batchSize}: p50 ${(r.latency_ms.p50 * 1000).toFixed(1)} us, p99 ${(r.latency_ms.p99 * 1000).toFixed(1)} us, ${r.throughput_per_s.toFixed(0)} examples/s`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Decision rule on simulated runs: per-run p99 = 10 ms x factor x lognormal(sigma), 5% of runs +30%.
const TB: Testbed = { name: 'gpu', gpu: 'sim', driver: null, cuda: null, runner: null, cpu: 'sim' };
function sim(rng: Rng, n: number, factor: number, sigma: number): RunRecord[] {
  const runs: RunRecord[] = [];
  for (let i = 0; i < n; i++)
    for (const side of ['champion', 'challenger'] as const) {
      let v = 10 * (side === 'challenger' ? factor : 1) * Math.exp(sigma * gaussian(rng));
      if (rng() < 0.05) v *= 1.3;
      runs.push({ side, order: runs.length, testbed: TB, artifactDigest: side, metrics: { latency_p99_ms: v } });
    }
  return runs;
}
console.log(
  '\nDecision rule, 1,000 simulated benchmarks per row, allowance latency_p99_ms: 10%, 95% bootstrap CI (2,000 resamples)',
);
console.log('| per-run noise | runs each | true change | pass | inconclusive | fail | ms per decision |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const sigma of [0.02, 0.05])
  for (const n of [6, 10])
    for (const factor of [1, 1.02, 1.15, 1.25]) {
      const rng = mulberry32(1000 + n);
      const c = { pass: 0, fail: 0, inconclusive: 0 };
      const t0 = performance.now();
      for (let t = 0; t < 1000; t++)
        c[
          decide({
            runs: sim(rng, n, factor, sigma),
            expected: { championDigest: 'champion', challengerDigest: 'challenger' },
            policy: { regression: { latency_p99_ms: '10%' }, seed: t },
          }).verdict
        ]++;
      const ms = (performance.now() - t0) / 1000;
      const pct = (x: number) => `${(x / 10).toFixed(1)}%`;
      console.log(
        `| ${(sigma * 100).toFixed(0)}% + outliers | ${n} | ${factor === 1 ? 'none' : `+${((factor - 1) * 100).toFixed(0)}%`} | ${pct(c.pass)} | ${pct(c.inconclusive)} | ${pct(c.fail)} | ${ms.toFixed(2)} |`,
      );
    }
