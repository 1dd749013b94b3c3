// The decision rule on simulated runs: its false-failure rate, its power, and its refusals. Noise model:
// per-run metric = true value x lognormal(sigma) with 5% of runs hit by a +30% outlier (a noisy
// neighbour, a GC pause), which is what per-run p99 latencies look like on shared machines.
import { describe, expect, it } from 'vitest';
import { betterDirection, decide, type DecisionPolicy } from '../../src/benchmark/decision.ts';
import { bootstrapMedianRatio, percentile } from '../../src/benchmark/stats.ts';
import type { RunRecord, Testbed } from '../../src/benchmark/types.ts';
import { type Rng, gaussian, mulberry32 } from '../../src/lib/prng.ts';

const TB: Testbed = {
  name: 'gpu',
  gpu: 'NVIDIA H100 80GB HBM3',
  driver: '570.86.15',
  cuda: '12.8',
  runner: 'r1',
  cpu: 'AMD EPYC x16',
};
const expected = { championDigest: 'sha256:champ', challengerDigest: 'sha256:chall' };

function simulate(rng: Rng, n: number, factor: number, sigma = 0.03, metric = 'latency_p99_ms'): RunRecord[] {
  const runs: RunRecord[] = [];
  for (let i = 0; i < n; i++) {
    for (const side of ['champion', 'challenger'] as const) {
      let v = 10 * (side === 'challenger' ? factor : 1) * Math.exp(sigma * gaussian(rng));
      if (rng() < 0.05) v *= 1.3;
      runs.push({
        side,
        order: runs.length,
        testbed: TB,
        artifactDigest: side === 'champion' ? expected.championDigest : expected.challengerDigest,
        metrics: { [metric]: v, accuracy: 0.93 },
      });
    }
  }
  return runs;
}

function tally(trials: number, seed: number, make: (rng: Rng) => RunRecord[], policy: DecisionPolicy) {
  const rng = mulberry32(seed);
  const c = { pass: 0, fail: 0, inconclusive: 0 };
  for (let t = 0; t < trials; t++) c[decide({ runs: make(rng), expected, policy: { seed: t, ...policy } }).verdict]++;
  return c;
}

const p99 = { regression: { latency_p99_ms: '10%' } };

describe('decision rule on simulated runs', () => {
  it('identical distributions: at most 5% false failures in 1,000 trials (and mostly pass)', () => {
    const c = tally(1000, 1, (r) => simulate(r, 6, 1), p99);
    expect(c.fail).toBeLessThanOrEqual(50);
    expect(c.pass).toBeGreaterThanOrEqual(600); // a rule that is always inconclusive would be useless
  });

  it('a 15% p99 regression against a 10% allowance is caught: never passes, and fails most trials with 10 runs', () => {
    const six = tally(1000, 2, (r) => simulate(r, 6, 1.15), p99);
    expect(six.pass).toBe(0);
    const ten = tally(300, 3, (r) => simulate(r, 10, 1.15), p99);
    expect(ten.pass).toBe(0);
    expect(ten.fail).toBeGreaterThanOrEqual(150);
  });

  it('a 2% change inside a 10% allowance never fails in 1,000 trials', () => {
    const c = tally(1000, 4, (r) => simulate(r, 6, 1.02), p99);
    expect(c.fail).toBe(0);
    expect(c.pass).toBeGreaterThanOrEqual(600);
  });

  it('is reproducible: same runs and seed, same interval', () => {
    const runs = simulate(mulberry32(9), 6, 1.05);
    const a = decide({ runs, expected, policy: { ...p99, seed: 7 } });
    const b = decide({ runs, expected, policy: { ...p99, seed: 7 } });
    expect(a).toEqual(b);
    expect(a.comparisons[0]!.ci).toHaveLength(2);
  });
});

describe('preconditions fail closed', () => {
  const good = () => simulate(mulberry32(11), 6, 1);

  it('passes a clean comparison (the control for the cases below)', () => {
    expect(decide({ runs: good(), expected, policy: { ...p99, seed: 1 } }).verdict).toBe('pass');
  });

  it('too few runs -> inconclusive with a reason', () => {
    const d = decide({ runs: simulate(mulberry32(11), 5, 1), expected, policy: p99 });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reasons).toContain('too few runs: 5 successful champion run(s), at least 6 are needed');
  });

  it('mismatched testbeds -> inconclusive naming both', () => {
    const runs = good();
    runs[3] = { ...runs[3]!, testbed: { ...TB, gpu: 'NVIDIA L4', driver: '550.54' } };
    const d = decide({ runs, expected, policy: p99 });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reasons.join('\n')).toContain(
      'runs come from different testbeds: gpu (NVIDIA H100 80GB HBM3, driver 570.86.15, CUDA 12.8, AMD EPYC x16) vs gpu (NVIDIA L4, driver 550.54, CUDA 12.8, AMD EPYC x16)',
    );
  });

  it("a testbed other than the recipe's -> inconclusive", () => {
    const d = decide({ runs: good(), expected: { ...expected, testbed: 'gpu-h100' }, policy: p99 });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reasons).toContain('runs are from testbed "gpu", the recipe requires "gpu-h100"');
  });

  it('artifact digest mismatch -> inconclusive', () => {
    const d = decide({ runs: good(), expected: { ...expected, challengerDigest: 'sha256:other' }, policy: p99 });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reasons).toContain(
      "challenger artifact digest mismatch: runs measured sha256:chall but the card's artifacts give sha256:other",
    );
  });

  it('runs not interleaved -> inconclusive', () => {
    const runs = good()
      .sort((a, b) => (a.side === b.side ? a.order - b.order : a.side === 'champion' ? -1 : 1))
      .map((r, i) => ({ ...r, order: i }));
    const d = decide({ runs, expected, policy: p99 });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reasons[0]).toMatch(/not interleaved/);
  });

  it('no checks configured -> inconclusive, never a pass by default', () => {
    const d = decide({ runs: good(), expected, policy: {} });
    expect(d.verdict).toBe('inconclusive');
  });

  it('an unknown metric direction or a metric the harness did not report -> inconclusive', () => {
    expect(decide({ runs: good(), expected, policy: { regression: { quality: '5%' } } }).reasons[0]).toMatch(
      /cannot tell whether higher or lower "quality" is better/,
    );
    expect(decide({ runs: good(), expected, policy: { thresholds: { ttft_p50_ms: { max: 50 } } } }).reasons[0]).toBe(
      'the harness did not report "ttft_p50_ms" for the challenger',
    );
  });

  it('absolute thresholds use the challenger median; errors fail; a crashed challenger run is inconclusive', () => {
    const runs = good();
    expect(decide({ runs, expected, policy: { thresholds: { accuracy: { min: 0.95 } } } }).verdict).toBe('fail');
    expect(
      decide({ runs, expected, policy: { thresholds: { accuracy: { min: 0.9 }, latency_p99_ms: { max: 20 } } } })
        .verdict,
    ).toBe('pass');
    const erring = runs.map((r) =>
      r.side === 'challenger' && r.order === 3 ? { ...r, metrics: { ...r.metrics, errors: 2 } } : r,
    );
    const e = decide({ runs: erring, expected, policy: p99 });
    expect(e.verdict).toBe('fail');
    expect(e.reasons).toContain(
      'the challenger returned 2 error(s) in 1 run(s); a version that errors on the golden set cannot pass',
    );
    const crashed = [
      ...runs,
      {
        side: 'challenger' as const,
        order: 12,
        testbed: TB,
        artifactDigest: expected.challengerDigest,
        metrics: {},
        error: 'harness exited with 1: CUDA out of memory',
      },
    ];
    const c = decide({ runs: crashed, expected, policy: p99 });
    expect(c.verdict).toBe('inconclusive');
    expect(c.reasons).toContain('challenger run 12 failed: harness exited with 1: CUDA out of memory');
  });

  it('higher-is-better metrics regress downwards', () => {
    const runs = good().map((r) => (r.side === 'challenger' ? { ...r, metrics: { ...r.metrics, accuracy: 0.9 } } : r));
    const d = decide({ runs, expected, policy: { regression: { accuracy: '1%' } } });
    expect(d.verdict).toBe('fail');
    expect(d.comparisons[0]).toMatchObject({ better: 'higher', ci: [0.9 / 0.93, 0.9 / 0.93] });
  });
});

describe('stats', () => {
  it('percentiles interpolate; bootstrap of identical samples is exactly 1', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([5], 99)).toBe(5);
    expect(bootstrapMedianRatio([2, 2, 2], [2, 2, 2])).toMatchObject({ ratio: 1, lo: 1, hi: 1 });
    expect(betterDirection('latency_p99_ms@8')).toBe('lower');
    expect(betterDirection('throughput@32')).toBe('higher');
  });
});
