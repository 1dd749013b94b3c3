// Small statistics the benchmark gate needs: percentiles, medians and a seeded percentile bootstrap of
// the ratio of two medians. Written for small samples (6-30 runs) and thousands of resamples.
import { type Rng, mulberry32 } from '../lib/prng.ts';
import { BENCHMARK_DEFAULTS } from './defaults.ts';

/** Linear-interpolated percentile (p in [0, 100]) of values; sorts a copy. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  return sortedPercentile(s, p);
}

export function sortedPercentile(s: Float64Array, p: number): number {
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** Median of the first n entries of buf, sorting them in place (insertion sort: n is small). */
function medianInPlace(buf: Float64Array, n: number): number {
  for (let i = 1; i < n; i++) {
    const v = buf[i]!;
    let j = i - 1;
    while (j >= 0 && buf[j]! > v) {
      buf[j + 1] = buf[j]!;
      j--;
    }
    buf[j + 1] = v;
  }
  const h = n >> 1;
  return n % 2 === 1 ? buf[h]! : (buf[h - 1]! + buf[h]!) / 2;
}

export function ratio(num: number, den: number): number {
  if (den === 0) return num === 0 ? 1 : Number.POSITIVE_INFINITY;
  return num / den;
}

export interface RatioInterval {
  ratio: number;
  lo: number;
  hi: number;
  resamples: number;
  confidence: number;
}

/**
 * Percentile-bootstrap confidence interval of median(b) / median(a): each resample draws len(a) values
 * from a and len(b) from b with replacement. Seeded, so the same inputs give the same interval.
 */
export function bootstrapMedianRatio(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: { resamples?: number; confidence?: number; seed?: number; rng?: Rng } = {},
): RatioInterval {
  const resamples = options.resamples ?? BENCHMARK_DEFAULTS.resamples;
  const confidence = options.confidence ?? BENCHMARK_DEFAULTS.confidence;
  const rng = options.rng ?? mulberry32(options.seed ?? BENCHMARK_DEFAULTS.bootstrapSeed);
  const na = a.length,
    nb = b.length;
  if (na === 0 || nb === 0) throw new Error('bootstrap needs at least one value on each side');
  const bufA = new Float64Array(na),
    bufB = new Float64Array(nb),
    ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < na; i++) bufA[i] = a[Math.floor(rng() * na)]!;
    for (let i = 0; i < nb; i++) bufB[i] = b[Math.floor(rng() * nb)]!;
    ratios[r] = ratio(medianInPlace(bufB, nb), medianInPlace(bufA, na));
  }
  ratios.sort();
  const alpha = 1 - confidence;
  const lo = ratios[Math.max(0, Math.floor((alpha / 2) * resamples))]!;
  const hi = ratios[Math.min(resamples - 1, Math.ceil((1 - alpha / 2) * resamples) - 1)]!;
  return { ratio: ratio(median(b), median(a)), lo, hi, resamples, confidence };
}
