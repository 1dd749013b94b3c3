// The benchmark gate's decision rule. It fails closed: only clear evidence passes.
//  - Preconditions (any one unmet => inconclusive): >= minRuns successful runs per side, runs
//    interleaved, one testbed for all runs, each side's runs measured exactly the expected artifacts.
//  - Regression rules ({metric: "10%"}): percentile-bootstrap CI of median(challenger)/median(champion)
//    over the per-run values. PASS if the CI's worst end is within the allowance, FAIL if the whole CI
//    is beyond it, otherwise INCONCLUSIVE (noise too large to tell; re-run with more runs).
//  - Absolute thresholds ({metric: {min, max}}) are checked on the challenger's median.
//  - A challenger run that reports errors fails; a challenger run that crashed makes it inconclusive.
// The overall verdict is the worst of the checks (fail > inconclusive > pass); no checks => inconclusive.
import { mulberry32 } from '../lib/prng.ts';
import { BENCHMARK_DEFAULTS } from './defaults.ts';
import { bootstrapMedianRatio, median } from './stats.ts';
import type { Decision, MetricComparison, RunRecord, Side, Testbed, Verdict } from './types.ts';

export const DEFAULT_MIN_RUNS = BENCHMARK_DEFAULTS.minRuns;

export interface DecisionPolicy {
  thresholds?: Record<string, { min?: number; max?: number }>;
  regression?: Record<string, string>;
  /** Successful runs required on each side (default 6, never less than 2). */
  minRuns?: number;
  resamples?: number;
  confidence?: number;
  /** Seed of the bootstrap's PRNG (the workload seed), so a decision can be reproduced exactly. */
  seed?: number;
}

export interface DecisionInput {
  runs: RunRecord[];
  expected: { championDigest: string; challengerDigest: string; testbed?: string };
  policy: DecisionPolicy;
}

/** Which direction is better, from the metric's name; undefined when the name does not say. */
export function betterDirection(metric: string): 'lower' | 'higher' | undefined {
  const base = metric.split('@')[0]!;
  if (/^(accuracy|macro_f1|micro_f1|f1|precision|recall|exact_match)$/.test(base) || base.startsWith('throughput'))
    return 'higher';
  if (/(_ms|_s|_bytes|_mb)$/.test(base) || base === 'errors' || base.includes('memory')) return 'lower';
  return undefined;
}

export function parsePercent(s: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (!m) throw new Error(`allowed regression "${s}" is not a percentage such as 10%`);
  return Number(m[1]) / 100;
}

/** Fields that must match for two runs to be comparable (the runner's name may differ). */
export function testbedFingerprint(t: Testbed): string {
  return JSON.stringify([t.name, t.gpu, t.driver, t.cuda, t.cpu]);
}

function describeTestbed(t: Testbed): string {
  return `${t.name} (${t.gpu ?? 'no GPU'}${t.driver ? `, driver ${t.driver}` : ''}${t.cuda ? `, CUDA ${t.cuda}` : ''}, ${t.cpu})`;
}

const fmt = (x: number) =>
  Number.isFinite(x)
    ? Math.abs(x) >= 100
      ? x.toFixed(1)
      : Math.abs(x) >= 1
        ? x.toFixed(3)
        : x.toPrecision(3)
    : String(x);
const pct = (r: number) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`;

const rank: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };
const worst = (a: Verdict, b: Verdict): Verdict => (rank[a] >= rank[b] ? a : b);

export function decide(input: DecisionInput): Decision {
  const p = input.policy;
  const minRuns = Math.max(2, p.minRuns ?? DEFAULT_MIN_RUNS);
  const resamples = p.resamples ?? BENCHMARK_DEFAULTS.resamples;
  const confidence = p.confidence ?? 0.95;
  const seed = p.seed ?? BENCHMARK_DEFAULTS.bootstrapSeed;
  const method = {
    statistic: 'median' as const,
    interval: 'percentile-bootstrap' as const,
    resamples,
    confidence,
    seed,
    minRuns,
  };
  const reasons: string[] = [];
  let gate: Verdict = 'pass';
  const block = (why: string) => {
    gate = worst(gate, 'inconclusive');
    reasons.push(why);
  };

  const ok = (side: Side) => input.runs.filter((r) => r.side === side && r.error === undefined);
  const champion = ok('champion');
  const challenger = ok('challenger');

  // Preconditions.
  for (const [side, runs] of [
    ['champion', champion],
    ['challenger', challenger],
  ] as const) {
    if (runs.length < minRuns)
      block(`too few runs: ${runs.length} successful ${side} run(s), at least ${minRuns} are needed`);
  }
  for (const r of input.runs.filter((x) => x.error !== undefined)) {
    if (r.side === 'challenger') block(`challenger run ${r.order} failed: ${r.error}`);
    else reasons.push(`champion run ${r.order} failed and was left out: ${r.error}`);
  }
  const ordered = [...input.runs].sort((a, b) => a.order - b.order);
  let streak = 0;
  for (let i = 0; i < ordered.length; i++) {
    streak = i > 0 && ordered[i]!.side === ordered[i - 1]!.side ? streak + 1 : 1;
    if (streak > 2) {
      block(
        'runs were not interleaved (more than two consecutive runs of one version): drift would bias the comparison',
      );
      break;
    }
  }
  const testbeds = new Map<string, Testbed>();
  for (const r of input.runs) testbeds.set(testbedFingerprint(r.testbed), r.testbed);
  if (testbeds.size > 1)
    block(`runs come from different testbeds: ${[...testbeds.values()].map(describeTestbed).join(' vs ')}`);
  const only = [...testbeds.values()][0];
  if (input.expected.testbed !== undefined && only !== undefined && only.name !== input.expected.testbed) {
    block(`runs are from testbed "${only.name}", the recipe requires "${input.expected.testbed}"`);
  }
  for (const [side, want] of [
    ['champion', input.expected.championDigest],
    ['challenger', input.expected.challengerDigest],
  ] as const) {
    const got = [...new Set(input.runs.filter((r) => r.side === side).map((r) => r.artifactDigest))];
    const bad = got.filter((g) => g !== want);
    if (bad.length)
      block(`${side} artifact digest mismatch: runs measured ${bad.join(', ')} but the card's artifacts give ${want}`);
  }

  // Checks.
  const comparisons: MetricComparison[] = [];
  const values = (runs: RunRecord[], metric: string) =>
    runs.map((r) => r.metrics[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const rng = mulberry32(seed);

  for (const [metric, allowedText] of Object.entries(p.regression ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const better = betterDirection(metric);
    const a = values(champion, metric),
      b = values(challenger, metric);
    const base = { metric, kind: 'regression' as const, better: better ?? ('lower' as const), allowed: allowedText };
    if (better === undefined) {
      comparisons.push({
        ...base,
        challenger: { median: b.length ? median(b) : Number.NaN, n: b.length },
        verdict: 'inconclusive',
        reason: `cannot tell whether higher or lower "${metric}" is better; name it like latency_*_ms, throughput*, accuracy`,
      });
      continue;
    }
    if (a.length < minRuns || b.length < minRuns) {
      comparisons.push({
        ...base,
        ...(a.length ? { champion: { median: median(a), n: a.length } } : {}),
        challenger: { median: b.length ? median(b) : Number.NaN, n: b.length },
        verdict: 'inconclusive',
        reason: `"${metric}" was reported by ${a.length} champion and ${b.length} challenger run(s); ${minRuns} each are needed`,
      });
      continue;
    }
    const allow = parsePercent(allowedText);
    const ci = bootstrapMedianRatio(a, b, { resamples, confidence, rng });
    // For lower-is-better the worst end is the CI's top; for higher-is-better, its bottom.
    const limit = better === 'lower' ? 1 + allow : 1 - allow;
    const worstEnd = better === 'lower' ? ci.hi : ci.lo;
    const bestEnd = better === 'lower' ? ci.lo : ci.hi;
    const within = (x: number) => (better === 'lower' ? x <= limit : x >= limit);
    let verdict: Verdict;
    let reason: string;
    const ciText = `${(confidence * 100).toFixed(0)}% CI of the ratio [${fmt(ci.lo)}, ${fmt(ci.hi)}]`;
    if (within(worstEnd)) {
      verdict = 'pass';
      reason = `${metric} ${pct(ci.ratio)}; ${ciText} is within the allowed ${allowedText} regression`;
    } else if (!within(bestEnd)) {
      verdict = 'fail';
      reason = `${metric} regressed ${pct(ci.ratio)}; ${ciText} lies entirely beyond the allowed ${allowedText}`;
    } else {
      verdict = 'inconclusive';
      reason = `${metric} ${pct(ci.ratio)}; ${ciText} straddles the allowed ${allowedText}: too noisy to tell, re-run with more runs`;
    }
    comparisons.push({
      ...base,
      champion: { median: median(a), n: a.length },
      challenger: { median: median(b), n: b.length },
      ratio: ci.ratio,
      ci: [ci.lo, ci.hi],
      verdict,
      reason,
    });
  }

  for (const [metric, bound] of Object.entries(p.thresholds ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const b = values(challenger, metric);
    const better = betterDirection(metric) ?? (bound.min !== undefined ? 'higher' : 'lower');
    const a = values(champion, metric);
    const base = {
      metric,
      kind: 'threshold' as const,
      better,
      bound,
      ...(a.length ? { champion: { median: median(a), n: a.length } } : {}),
    };
    if (b.length === 0) {
      comparisons.push({
        ...base,
        challenger: { median: Number.NaN, n: 0 },
        verdict: 'inconclusive',
        reason: `the harness did not report "${metric}" for the challenger`,
      });
      continue;
    }
    const m = median(b);
    const low = bound.min !== undefined && m < bound.min;
    const high = bound.max !== undefined && m > bound.max;
    const want = [bound.min !== undefined ? `>= ${bound.min}` : '', bound.max !== undefined ? `<= ${bound.max}` : '']
      .filter(Boolean)
      .join(' and ');
    comparisons.push({
      ...base,
      challenger: { median: m, n: b.length },
      verdict: low || high ? 'fail' : 'pass',
      reason: `${metric} median ${fmt(m)} ${low || high ? 'violates' : 'meets'} the threshold ${want}`,
    });
  }

  if (!Object.hasOwn(p.thresholds ?? {}, 'errors')) {
    const erring = challenger.filter((r) => (r.metrics.errors ?? 0) > 0);
    if (erring.length > 0) {
      const total = erring.reduce((s, r) => s + r.metrics.errors!, 0);
      comparisons.push({
        metric: 'errors',
        kind: 'errors',
        better: 'lower',
        challenger: { median: median(values(challenger, 'errors')), n: challenger.length },
        verdict: 'fail',
        reason: `the challenger returned ${total} error(s) in ${erring.length} run(s); a version that errors on the golden set cannot pass`,
      });
    }
  }

  let verdict: Verdict = gate;
  for (const c of comparisons) {
    verdict = worst(verdict, c.verdict);
    if (c.verdict !== 'pass') reasons.push(c.reason);
  }
  if (comparisons.length === 0) {
    verdict = worst(verdict, 'inconclusive');
    reasons.push(
      'the recipe defines no thresholds or regression rules, so nothing shows this version is fit for production',
    );
  }
  if (verdict === 'pass')
    reasons.push(
      `all ${comparisons.length} check(s) passed on ${challenger.length} challenger and ${champion.length} champion runs`,
    );
  return { verdict, reasons, comparisons, method };
}
