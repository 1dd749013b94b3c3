// Champion-vs-challenger decisions that stay valid however often someone looks: the mixture sequential
// probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh, "Peeking at A/B Tests: Why it
// matters, and what to do about it" (KDD 2017) and "Always Valid Inference" (Operations Research 70(3),
// 2022). Why this one: a fixed-horizon z-test checked after every batch declares a winner in A/A
// traffic far more often than alpha (the "peeking" problem the lifecycle warns about); the mSPRT's
// likelihood ratio is a nonnegative martingale under H0, so by Ville's inequality
// P(exists n: Lambda_n >= 1/alpha) <= alpha, whether the report is read once or after every request.
// It needs only each arm's count, sum and sum of squares, which the gateway already keeps.
//
// The math (difference in means theta = mean_B - mean_A, normal mixture theta ~ N(0, tau^2)):
//   d = mean_B - mean_A,  V = s2_A / n_A + s2_B / n_B   (plug-in variances; for 0/1 outcomes s2 = p(1-p))
//   Lambda = sqrt(V / (V + tau^2)) * exp(d^2 tau^2 / (2 V (V + tau^2)))
// and the always-valid (1 - alpha) confidence sequence is the set of theta0 whose Lambda(theta0) < 1/alpha:
//   |d - theta0| <= sqrt(V (V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2) / V))).
// The guarantee is exact for normal increments with known variance; with plug-in variances it holds
// asymptotically, which is why no verdict is given before `minSamples` per arm (the seeded A/A
// simulation in test/observe measures the real rate). tau is the minimum detectable effect (absolute):
// the mixture then puts its weight where the effect the team cares about lives (Johari et al. §4.2).
import { gaussian, type Rng } from '../lib/prng.ts';

/** Sufficient statistics of one arm's outcomes (0/1 conversions or real values). */
export interface ArmStats {
  n: number;
  sum: number;
  sumSq: number;
}

export const emptyArm = (): ArmStats => ({ n: 0, sum: 0, sumSq: 0 });

export function addOutcome(arm: ArmStats, value: number): void {
  arm.n++;
  arm.sum += value;
  arm.sumSq += value * value;
}

export function mean(a: ArmStats): number {
  return a.n === 0 ? Number.NaN : a.sum / a.n;
}

/** Unbiased sample variance (n - 1); 0 for fewer than two outcomes. */
export function variance(a: ArmStats): number {
  if (a.n < 2) return 0;
  const m = a.sum / a.n;
  return Math.max(0, (a.sumSq - a.n * m * m) / (a.n - 1));
}

export interface SequentialOptions {
  alpha: number;
  /** Absolute effect size the mixture is tuned to (tau). */
  tau: number;
  /** No verdict before each arm has this many outcomes. */
  minSamples: number;
  /** Whether a larger metric is better (conversion) or smaller (error rate, latency). */
  higherIsBetter?: boolean;
}

export type Verdict = 'challenger' | 'champion' | 'inconclusive' | 'insufficient-samples';

export interface SequentialResult {
  verdict: Verdict;
  /** The mixture likelihood ratio against theta = 0. */
  lambda: number;
  /** Always-valid p-value at this look: min(1, 1/Lambda). */
  pValue: number;
  difference: number;
  /** Relative lift of the challenger over the champion (difference / champion mean). */
  lift: number;
  /** Always-valid confidence sequence for the difference at this look. */
  interval: [number, number];
  champion: { n: number; mean: number };
  challenger: { n: number; mean: number };
}

/** log Lambda for theta0, from the difference d and its variance V. */
export function logMixtureRatio(d: number, v: number, tau2: number, theta0 = 0): number {
  const x = d - theta0;
  return 0.5 * Math.log(v / (v + tau2)) + (x * x * tau2) / (2 * v * (v + tau2));
}

/** Champion is arm A, challenger arm B. */
export function sequentialTest(champion: ArmStats, challenger: ArmStats, o: SequentialOptions): SequentialResult {
  if (!(o.alpha > 0 && o.alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${o.alpha}`);
  if (!(o.tau > 0)) throw new RangeError(`tau (the minimum detectable effect) must be > 0, got ${o.tau}`);
  const ma = mean(champion),
    mb = mean(challenger);
  const d = champion.n && challenger.n ? mb - ma : 0;
  const base = {
    difference: d,
    lift: ma ? d / ma : Number.NaN,
    champion: { n: champion.n, mean: ma },
    challenger: { n: challenger.n, mean: mb },
  };
  // A variance of 0 (all outcomes equal so far) says nothing about the spread yet: use the variance of
  // one success in n instead, so early identical outcomes cannot give an infinite ratio.
  const armVar = (a: ArmStats) => {
    const n = Math.max(1, a.n);
    const s2 = variance(a);
    return (s2 > 0 ? s2 : 1 / n) / n;
  };
  const v = armVar(champion) + armVar(challenger);
  const tau2 = o.tau * o.tau;
  const logL = logMixtureRatio(d, v, tau2);
  const lambda = Math.exp(logL);
  const half = Math.sqrt(((v * (v + tau2)) / tau2) * (2 * Math.log(1 / o.alpha) + Math.log((v + tau2) / v)));
  const result = {
    ...base,
    lambda,
    pValue: Math.min(1, 1 / lambda),
    interval: [d - half, d + half] as [number, number],
  };
  if (champion.n < o.minSamples || challenger.n < o.minSamples) return { ...result, verdict: 'insufficient-samples' };
  if (logL < Math.log(1 / o.alpha)) return { ...result, verdict: 'inconclusive' };
  const challengerBetter = (o.higherIsBetter ?? true) ? d > 0 : d < 0;
  return { ...result, verdict: challengerBetter ? 'challenger' : 'champion' };
}

/** One simulated experiment's outcome: whether and when a winner was declared. */
export interface SimulationRun {
  verdict: Verdict;
  /** Outcomes per arm when the verdict was reached (the horizon when none was). */
  samples: number;
}

/**
 * Simulates one experiment with Bernoulli outcomes (rates pA, pB), looking after every `every`
 * outcomes per arm up to `horizon`, stopping at the first decisive verdict: the peeking the test
 * must survive. Used by the tests and the bench, seeded for reproducibility.
 */
export function simulateBernoulli(
  rng: Rng,
  pA: number,
  pB: number,
  o: SequentialOptions & { horizon: number; every: number },
): SimulationRun {
  const a = emptyArm(),
    b = emptyArm();
  for (let n = 1; n <= o.horizon; n++) {
    addOutcome(a, rng() < pA ? 1 : 0);
    addOutcome(b, rng() < pB ? 1 : 0);
    if (n % o.every === 0 && n >= o.minSamples) {
      const r = sequentialTest(a, b, o);
      if (r.verdict === 'challenger' || r.verdict === 'champion') return { verdict: r.verdict, samples: n };
    }
  }
  return { verdict: 'inconclusive', samples: o.horizon };
}

/** The same with normal outcomes (means muA, muB, common sd). */
export function simulateNormal(
  rng: Rng,
  muA: number,
  muB: number,
  sd: number,
  o: SequentialOptions & { horizon: number; every: number },
): SimulationRun {
  const a = emptyArm(),
    b = emptyArm();
  for (let n = 1; n <= o.horizon; n++) {
    addOutcome(a, muA + sd * gaussian(rng));
    addOutcome(b, muB + sd * gaussian(rng));
    if (n % o.every === 0 && n >= o.minSamples) {
      const r = sequentialTest(a, b, o);
      if (r.verdict === 'challenger' || r.verdict === 'champion') return { verdict: r.verdict, samples: n };
    }
  }
  return { verdict: 'inconclusive', samples: o.horizon };
}
