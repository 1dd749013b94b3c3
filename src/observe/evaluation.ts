// Continuous evaluation: a scheduled golden-set run of a deployed version, compared with the accuracy
// its card recorded and with its previous evaluations. The drop rule: a one-sided two-proportion
// z-test (pooled) on accuracy with each side's number of golden examples; a drop is significant when
// p < alpha (model.yaml evaluation.alpha, default 0.01). A card metric counts as measured on the same
// golden-set size as the current run (cards do not record their test-set size).
import { createHash } from 'node:crypto';
import { UserError } from '../lib/errors.ts';
import type { DistributionSnapshot } from './drift.ts';

export const EVALUATION_CONTRACT = 'model-gitops/evaluation@1';
export const DEFAULT_DROP_ALPHA = 0.01;

export interface EvaluationReport {
  contract: typeof EVALUATION_CONTRACT;
  model: string;
  version: string;
  environment: string;
  role: 'champion' | 'canary';
  evaluatedAt: string;
  goldenSet: { path: string; sha256: string; examples: number };
  accuracy: number;
  /** The version's outputs and input lengths on the golden set: the drift reference. */
  reference: DistributionSnapshot;
}

export interface DropRow {
  against: string;
  baseline: number;
  baselineExamples: number;
  current: number;
  difference: number;
  z: number;
  pValue: number;
  significant: boolean;
}

export interface EvaluationComparison {
  drop: boolean;
  rows: DropRow[];
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7: plenty for a p < 0.01 rule). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** One-sided test that accuracy `current` (n1 examples) is below `baseline` (n0 examples). */
export function dropTest(baseline: number, n0: number, current: number, n1: number, alpha: number) {
  if (!(n0 > 0 && n1 > 0)) throw new RangeError('a drop test needs examples on both sides');
  const p = (baseline * n0 + current * n1) / (n0 + n1);
  const se = Math.sqrt(Math.max(p * (1 - p), 1e-12) * (1 / n0 + 1 / n1));
  const z = (current - baseline) / se;
  const pValue = normalCdf(z);
  return { z, pValue, significant: pValue < alpha };
}

export function compareEvaluation(
  current: EvaluationReport,
  cardAccuracy: number | undefined,
  previous: readonly EvaluationReport[],
  alpha = DEFAULT_DROP_ALPHA,
): EvaluationComparison {
  const rows: DropRow[] = [];
  const n1 = current.goldenSet.examples;
  const row = (against: string, baseline: number, n0: number): DropRow => {
    const t = dropTest(baseline, n0, current.accuracy, n1, alpha);
    return {
      against,
      baseline,
      baselineExamples: n0,
      current: current.accuracy,
      difference: current.accuracy - baseline,
      ...t,
    };
  };
  if (cardAccuracy !== undefined) rows.push(row('model card', cardAccuracy, n1));
  // The latest earlier evaluation of the same version on the same golden set (a changed set is not comparable).
  const earlier = previous
    .filter((p) => p.version === current.version && p.goldenSet.sha256 === current.goldenSet.sha256)
    .filter((p) => p.evaluatedAt < current.evaluatedAt)
    .sort((a, b) => a.evaluatedAt.localeCompare(b.evaluatedAt));
  const last = earlier.at(-1);
  if (last) rows.push(row(`evaluation of ${last.evaluatedAt}`, last.accuracy, last.goldenSet.examples));
  return { drop: rows.some((r) => r.significant), rows };
}

/** Checks the golden set's bytes against the recipe's digest; the error names the field to fix. */
export function verifyGoldenSet(bytes: Uint8Array, expected: string | undefined, where: string): string {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (expected === undefined)
    throw new UserError(
      `${where}: benchmark.workload.goldenSetSha256 is not set; add it (sha256 ${actual}) so evaluations name what they measured`,
    );
  if (actual !== expected)
    throw new UserError(
      `${where}: the golden set's sha256 is ${actual}, benchmark.workload.goldenSetSha256 says ${expected}; restore the set or update the digest in a reviewed change`,
    );
  return actual;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The issue body: the evidence table and a chart of accuracy across evaluations (Mermaid, rendered by GitHub). */
export function dropIssueBody(
  report: EvaluationReport,
  comparison: EvaluationComparison,
  history: readonly EvaluationReport[],
  extra: string[] = [],
): string {
  const series = [
    ...history.filter(
      (h) =>
        h.version === report.version &&
        h.goldenSet.sha256 === report.goldenSet.sha256 &&
        h.evaluatedAt < report.evaluatedAt,
    ),
    report,
  ]
    .sort((a, b) => a.evaluatedAt.localeCompare(b.evaluatedAt))
    .slice(-20);
  const lines = [
    `Continuous evaluation of **${report.model}@${report.version}** (${report.role} in ${report.environment}) on ${report.evaluatedAt}: accuracy ${pct(report.accuracy)} on ${report.goldenSet.examples} golden examples (\`${report.goldenSet.path}\`, sha256 \`${report.goldenSet.sha256.slice(0, 12)}\`).`,
    '',
    '| compared with | baseline | now | difference | z | p (one-sided) | significant |',
    '|---|---:|---:|---:|---:|---:|:---:|',
    ...comparison.rows.map(
      (r) =>
        `| ${r.against} | ${pct(r.baseline)} | ${pct(r.current)} | ${(100 * r.difference).toFixed(2)} pt | ${r.z.toFixed(2)} | ${r.pValue.toExponential(2)} | ${r.significant ? 'yes' : 'no'} |`,
    ),
    '',
    '```mermaid',
    'xychart-beta',
    `  title "accuracy of ${report.model}@${report.version}"`,
    `  x-axis [${series.map((s) => `"${s.evaluatedAt.slice(0, 10)}"`).join(', ')}]`,
    `  y-axis "accuracy %" 0 --> 100`,
    `  line [${series.map((s) => (100 * s.accuracy).toFixed(2)).join(', ')}]`,
    '```',
    ...extra,
  ];
  return lines.join('\n');
}

export function parseEvaluationReport(text: string, source: string): EvaluationReport {
  let d: any;
  try {
    d = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: not JSON (${(e as Error).message}); expected a ${EVALUATION_CONTRACT} report`);
  }
  const bad = (f: string) =>
    new UserError(`${source}: ${f} is missing or invalid in the ${EVALUATION_CONTRACT} report`);
  if (d?.contract !== EVALUATION_CONTRACT) throw bad('contract');
  for (const f of ['model', 'version', 'environment', 'evaluatedAt'] as const)
    if (typeof d[f] !== 'string') throw bad(f);
  if (!(typeof d.accuracy === 'number' && d.accuracy >= 0 && d.accuracy <= 1)) throw bad('accuracy');
  if (!Number.isSafeInteger(d.goldenSet?.examples) || d.goldenSet.examples < 1) throw bad('goldenSet.examples');
  if (typeof d.goldenSet.sha256 !== 'string') throw bad('goldenSet.sha256');
  if (!d.reference || !Array.isArray(d.reference.inputLength) || typeof d.reference.outputs !== 'object')
    throw bad('reference');
  return d as EvaluationReport;
}
