// Distances between a live distribution and a version's reference (its golden-set evaluation):
// population stability index (PSI) and Jensen-Shannon distance, over the same bins.
//
// Small counts: a bin that is empty on one side makes PSI infinite (ln 0) and says more about sample
// size than drift, so both sides are smoothed additively before comparing: each bin that is non-empty
// on either side gets SMOOTHING (0.5, Jeffreys' prior) added to its count; bins empty on both sides
// are left out (smoothing them would add a bias that grows with the difference in sample sizes). JS distance needs no smoothing to stay finite but
// gets the same one so the two metrics read the same bins. Conventional PSI reading: < 0.1 stable,
// 0.1-0.25 moderate shift, > 0.25 significant (Siddiqi, "Credit Risk Scorecards", 2006). JS distance
// (base-2 logs) lies in [0, 1].
import type { DriftSpec } from '../registry/types.ts';

export const SMOOTHING = 0.5;

export type DriftMetric = 'psi' | 'js';

/** Proportions of the bins that are non-empty on either side, each count smoothed by SMOOTHING. */
function probabilities(counts: ArrayLike<number>, other: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i]! + other[i]! > 0) total += counts[i]! + SMOOTHING;
  const p = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) p[i] = counts[i]! + other[i]! > 0 ? (counts[i]! + SMOOTHING) / total : 0;
  return p;
}

function sameBins(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`histograms have ${a.length} and ${b.length} bins`);
  if (a.length === 0) throw new RangeError('histograms have no bins');
}

/** PSI = sum (p_i - q_i) ln(p_i / q_i), with p the live and q the reference proportions. */
export function psi(live: ArrayLike<number>, reference: ArrayLike<number>): number {
  sameBins(live, reference);
  const p = probabilities(live, reference),
    q = probabilities(reference, live);
  let s = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) s += (p[i]! - q[i]!) * Math.log(p[i]! / q[i]!);
  return s;
}

/** Jensen-Shannon distance: sqrt of the JS divergence with base-2 logs, in [0, 1]. */
export function jensenShannon(live: ArrayLike<number>, reference: ArrayLike<number>): number {
  sameBins(live, reference);
  const p = probabilities(live, reference),
    q = probabilities(reference, live);
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    const m = (p[i]! + q[i]!) / 2;
    d += 0.5 * p[i]! * Math.log2(p[i]! / m) + 0.5 * q[i]! * Math.log2(q[i]! / m);
  }
  return Math.sqrt(Math.max(0, d));
}

export function distance(metric: DriftMetric, live: ArrayLike<number>, reference: ArrayLike<number>): number {
  return metric === 'psi' ? psi(live, reference) : jensenShannon(live, reference);
}

/** Aligns two labelled count maps on the union of their labels (sorted, so the result is stable). */
export function alignCategories(
  live: Record<string, number>,
  reference: Record<string, number>,
): { labels: string[]; live: number[]; reference: number[] } {
  const labels = [...new Set([...Object.keys(live), ...Object.keys(reference)])].sort();
  return { labels, live: labels.map((l) => live[l] ?? 0), reference: labels.map((l) => reference[l] ?? 0) };
}

/** What is compared: the output distribution (labels or finish reasons) and the input-length histogram. */
export interface DistributionSnapshot {
  requests: number;
  outputs: Record<string, number>;
  /** Counts per fixed log2 bucket (see counters.ts LENGTH_BUCKETS). */
  inputLength: number[];
  tokens?: number[];
}

export type DriftLevel = 'ok' | 'warn' | 'fail' | 'insufficient';

export interface DriftFinding {
  feature: 'outputs' | 'inputLength' | 'tokens';
  metric: DriftMetric;
  value: number;
  level: DriftLevel;
}

export interface DriftCheck {
  level: DriftLevel;
  requests: number;
  findings: DriftFinding[];
}

export const DEFAULT_DRIFT: Required<DriftSpec> = { metric: 'psi', warn: 0.1, fail: 0.25, minRequests: 200 };

/**
 * Compares a live window with the reference; the check's level is its worst finding. Below
 * `minRequests` live requests it says `insufficient` rather than guess.
 */
export function checkDrift(
  live: DistributionSnapshot,
  reference: DistributionSnapshot,
  spec: DriftSpec = DEFAULT_DRIFT,
): DriftCheck {
  const s = { ...DEFAULT_DRIFT, ...spec };
  if (!(s.fail >= s.warn)) throw new RangeError(`drift.fail (${s.fail}) must be >= drift.warn (${s.warn})`);
  if (live.requests < s.minRequests) return { level: 'insufficient', requests: live.requests, findings: [] };
  const level = (v: number): DriftLevel => (v >= s.fail ? 'fail' : v >= s.warn ? 'warn' : 'ok');
  const findings: DriftFinding[] = [];
  const out = alignCategories(live.outputs, reference.outputs);
  if (out.labels.length > 0) {
    const v = distance(s.metric, out.live, out.reference);
    findings.push({ feature: 'outputs', metric: s.metric, value: v, level: level(v) });
  }
  const v = distance(s.metric, live.inputLength, reference.inputLength);
  findings.push({ feature: 'inputLength', metric: s.metric, value: v, level: level(v) });
  if (live.tokens && reference.tokens && reference.tokens.some((c) => c > 0)) {
    const t = distance(s.metric, live.tokens, reference.tokens);
    findings.push({ feature: 'tokens', metric: s.metric, value: t, level: level(t) });
  }
  const rank = { ok: 0, warn: 1, fail: 2, insufficient: -1 } as const;
  const worst = findings.reduce<DriftLevel>((w, f) => (rank[f.level] > rank[w] ? f.level : w), 'ok');
  return { level: worst, requests: live.requests, findings };
}
