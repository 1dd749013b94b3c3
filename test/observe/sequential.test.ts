// The always-valid sequential test (mSPRT): its false-positive rate under continuous peeking, its
// power for a +5% lift, and its refusals. The 1,000 A/A experiments run against the statistics module
// with seeded Bernoulli outcomes (fast, deterministic); test/observe/gateway.test.ts sends a smaller
// number of experiments through a real gateway over HTTP.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/lib/prng.ts';
import {
  addOutcome,
  emptyArm,
  logMixtureRatio,
  sequentialTest,
  simulateBernoulli,
  simulateNormal,
  variance,
} from '../../src/observe/sequential.ts';

const BASE = 0.5;
const OPTS = { alpha: 0.05, tau: BASE * 0.05, minSamples: 500, every: 100 };

describe('mSPRT under repeated looks', () => {
  it('1,000 seeded A/A experiments, looked at every 100 outcomes up to 20,000 per arm: declared winners <= alpha', () => {
    let winners = 0;
    for (let i = 0; i < 1000; i++)
      if (simulateBernoulli(mulberry32(1000 + i), BASE, BASE, { ...OPTS, horizon: 20_000 }).verdict !== 'inconclusive')
        winners++;
    const rate = winners / 1000;
    console.log(`A/A declared-winner rate: ${winners}/1000 = ${rate} (alpha ${OPTS.alpha}, 196 looks each)`);
    expect(rate).toBeLessThanOrEqual(OPTS.alpha);
  });

  it('a naive fixed-horizon z-test under the same peeking exceeds alpha (why the mSPRT is needed)', () => {
    let winners = 0;
    for (let i = 0; i < 300; i++) {
      const rng = mulberry32(1000 + i);
      const a = emptyArm(),
        b = emptyArm();
      for (let n = 1; n <= 20_000; n++) {
        addOutcome(a, rng() < BASE ? 1 : 0);
        addOutcome(b, rng() < BASE ? 1 : 0);
        if (n % 100 === 0 && n >= 500) {
          const z = (b.sum / n - a.sum / n) / Math.sqrt(variance(a) / n + variance(b) / n);
          if (Math.abs(z) > 1.96) {
            winners++;
            break;
          }
        }
      }
    }
    expect(winners / 300).toBeGreaterThan(0.15);
  });

  it('detects a true +5% lift (0.500 -> 0.525) in >= 90% of 200 seeded experiments and reports the median samples', () => {
    const samples: number[] = [];
    let detected = 0;
    for (let i = 0; i < 200; i++) {
      const r = simulateBernoulli(mulberry32(5000 + i), BASE, BASE * 1.05, { ...OPTS, horizon: 60_000 });
      if (r.verdict === 'challenger') detected++;
      expect(r.verdict).not.toBe('champion');
      samples.push(r.samples);
    }
    samples.sort((x, y) => x - y);
    const median = samples[100]!;
    console.log(`+5% lift: detected ${detected}/200, median ${median} outcomes per arm`);
    expect(detected / 200).toBeGreaterThanOrEqual(0.9);
    // Fixed-horizon 80%-power size is ~6,300 per arm: the sequential test must be in that range, not 10x it.
    expect(median).toBeGreaterThan(1000);
    expect(median).toBeLessThan(20_000);
  });

  it('a worse challenger is called for the champion (rollback), on normal values too', () => {
    const r = simulateNormal(mulberry32(9), 4.0, 3.8, 1, {
      alpha: 0.05,
      tau: 0.2,
      minSamples: 100,
      every: 50,
      horizon: 10_000,
    });
    expect(r.verdict).toBe('champion');
    let aa = 0;
    for (let i = 0; i < 200; i++)
      if (
        simulateNormal(mulberry32(77 + i), 4, 4, 1, {
          alpha: 0.05,
          tau: 0.2,
          minSamples: 100,
          every: 50,
          horizon: 5000,
        }).verdict !== 'inconclusive'
      )
        aa++;
    expect(aa / 200).toBeLessThanOrEqual(0.05);
  });
});

describe('sequentialTest', () => {
  const arm = (n: number, successes: number) => ({ n, sum: successes, sumSq: successes });

  it('no verdict below minSamples however large the difference', () => {
    const r = sequentialTest(arm(50, 5), arm(50, 45), { alpha: 0.05, tau: 0.05, minSamples: 100 });
    expect(r.verdict).toBe('insufficient-samples');
    expect(r.pValue).toBeLessThan(0.05);
  });

  it('Lambda matches the closed form, the interval excludes 0 exactly when p < alpha, and better: lower flips the call', () => {
    const a = arm(10_000, 5000),
      b = arm(10_000, 5300);
    const r = sequentialTest(a, b, { alpha: 0.05, tau: 0.025, minSamples: 100 });
    const v = variance(a) / 1e4 + variance(b) / 1e4;
    expect(Math.log(r.lambda)).toBeCloseTo(logMixtureRatio(0.03, v, 0.025 ** 2), 9);
    expect(r.verdict).toBe('challenger');
    expect(r.interval[0]).toBeGreaterThan(0);
    expect(r.lift).toBeCloseTo(0.06, 9);
    expect(sequentialTest(a, b, { alpha: 0.05, tau: 0.025, minSamples: 100, higherIsBetter: false }).verdict).toBe(
      'champion',
    );
    const even = sequentialTest(a, arm(10_000, 5010), { alpha: 0.05, tau: 0.025, minSamples: 100 });
    expect(even.verdict).toBe('inconclusive');
    expect(even.interval[0]).toBeLessThan(0);
    expect(even.interval[1]).toBeGreaterThan(0);
  });

  it('identical 0/1 outcomes so far do not give an infinite ratio', () => {
    const r = sequentialTest(arm(200, 0), arm(200, 0), { alpha: 0.05, tau: 0.01, minSamples: 100 });
    expect(Number.isFinite(r.lambda)).toBe(true);
    expect(r.verdict).toBe('inconclusive');
  });

  it('refuses alpha outside (0, 1) and a non-positive tau', () => {
    expect(() => sequentialTest(arm(1, 1), arm(1, 1), { alpha: 0, tau: 0.1, minSamples: 1 })).toThrow(
      /alpha must be in \(0, 1\), got 0/,
    );
    expect(() => sequentialTest(arm(1, 1), arm(1, 1), { alpha: 1.5, tau: 0.1, minSamples: 1 })).toThrow(/alpha/);
    expect(() => sequentialTest(arm(1, 1), arm(1, 1), { alpha: 0.05, tau: 0, minSamples: 1 })).toThrow(
      /tau .* must be > 0/,
    );
    expect(() => sequentialTest(arm(1, 1), arm(1, 1), { alpha: 0.05, tau: Number.NaN, minSamples: 1 })).toThrow(/tau/);
  });
});
