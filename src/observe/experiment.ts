// An A/B experiment's report: champion vs challenger (the canary) on the feedback the gateway
// collected, decided by the always-valid sequential test with the hypothesis and thresholds of
// model.yaml `experiment`. The verdict names the next step: promote the challenger, or roll it back.
import { UserError } from '../lib/errors.ts';
import type { ExperimentSpec } from '../registry/types.ts';
import type { ObservationsSnapshot } from './observations.ts';
import { type ArmStats, emptyArm, mean, type SequentialResult, sequentialTest } from './sequential.ts';

export const DEFAULT_MDE = 0.05;

export interface ExperimentReport {
  model: string;
  hypothesis: string;
  metric: string;
  alpha: number;
  minSamples: number;
  minimumDetectableEffect: number;
  champion: string;
  challenger: string;
  result: SequentialResult;
  /** promote: open the promotion pull request; rollback: open the rollback (drop the canary); wait: keep collecting. */
  action: 'promote' | 'rollback' | 'wait';
  summary: string;
}

function relative(p: string | undefined): number {
  if (p === undefined) return DEFAULT_MDE;
  return Number(p.replace(/%$/, '')) / 100;
}

function armOf(s: ObservationsSnapshot, model: string, version: string): ArmStats {
  const arms = s.versions.filter((v) => v.model === model && v.version === version).map((v) => v.feedback);
  const a = emptyArm();
  for (const x of arms) {
    a.n += x.n;
    a.sum += x.sum;
    a.sumSq += x.sumSq;
  }
  return a;
}

/** Merges the snapshots of several gateway replicas (same environment) into one. */
export function mergeArms(snapshots: readonly ObservationsSnapshot[], model: string, version: string): ArmStats {
  const a = emptyArm();
  for (const s of snapshots) {
    const x = armOf(s, model, version);
    a.n += x.n;
    a.sum += x.sum;
    a.sumSq += x.sumSq;
  }
  return a;
}

export function experimentReport(
  snapshots: readonly ObservationsSnapshot[],
  model: string,
  spec: ExperimentSpec | undefined,
  versions: { champion?: string; challenger?: string } = {},
): ExperimentReport {
  if (!spec)
    throw new UserError(
      `models/${model}/model.yaml has no experiment: add {hypothesis, metric, alpha, minSamples} before reading a verdict (an experiment without a stated hypothesis is not one)`,
    );
  const deployed = snapshots.map((s) => s.deployments[model]).find((d) => d !== undefined);
  const champion = versions.champion ?? deployed?.champion;
  const challenger = versions.challenger ?? deployed?.canary;
  if (!champion || !challenger)
    throw new UserError(
      `${model}: no champion and challenger (the gateway reports ${deployed ? `champion ${deployed.champion}, no canary` : 'no deployment'}); give --champion and --challenger`,
    );
  const a = mergeArms(snapshots, model, champion);
  const b = mergeArms(snapshots, model, challenger);
  const mde = relative(spec.minimumDetectableEffect);
  // tau = the MDE in the metric's own units, from the champion's observed mean (or the pooled one early on).
  const baseline = a.n > 0 ? Math.abs(mean(a)) : a.n + b.n > 0 ? Math.abs((a.sum + b.sum) / (a.n + b.n)) : 0;
  const tau = Math.max(mde * baseline, 1e-9);
  const result = sequentialTest(a, b, {
    alpha: spec.alpha,
    tau,
    minSamples: spec.minSamples,
    higherIsBetter: spec.better !== 'lower',
  });
  const action = result.verdict === 'challenger' ? 'promote' : result.verdict === 'champion' ? 'rollback' : 'wait';
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
  const summary =
    result.verdict === 'insufficient-samples'
      ? `${model}: ${result.champion.n} / ${result.challenger.n} outcomes (champion / challenger); each arm needs ${spec.minSamples} before a verdict`
      : result.verdict === 'inconclusive'
        ? `${model}: no significant difference yet in ${spec.metric} (${f(result.champion.mean)} vs ${f(result.challenger.mean)}, always-valid p = ${f(result.pValue)} >= alpha ${spec.alpha}); keep collecting`
        : `${model}: ${result.verdict === 'challenger' ? `challenger ${challenger}` : `champion ${champion}`} is better on ${spec.metric} (${f(result.champion.mean)} vs ${f(result.challenger.mean)}, lift ${(100 * result.lift).toFixed(2)}%, always-valid p = ${f(result.pValue)} < alpha ${spec.alpha})`;
  return {
    model,
    hypothesis: spec.hypothesis,
    metric: spec.metric,
    alpha: spec.alpha,
    minSamples: spec.minSamples,
    minimumDetectableEffect: mde,
    champion,
    challenger,
    result,
    action,
    summary,
  };
}

/** The verdict as a pull-request comment (markdown). */
export function experimentComment(r: ExperimentReport): string {
  const x = r.result;
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');
  return [
    `### A/B experiment: ${r.model} ${r.champion} (champion) vs ${r.challenger} (challenger)`,
    '',
    `**Hypothesis:** ${r.hypothesis}`,
    '',
    '| | champion | challenger |',
    '|---|---:|---:|',
    `| outcomes | ${x.champion.n} | ${x.challenger.n} |`,
    `| ${r.metric} | ${f(x.champion.mean)} | ${f(x.challenger.mean)} |`,
    '',
    `Difference ${f(x.difference)} (always-valid ${100 * (1 - r.alpha)}% interval ${f(x.interval[0])} to ${f(x.interval[1])}), mSPRT likelihood ratio ${x.lambda.toPrecision(3)}, always-valid p = ${f(x.pValue)}; alpha ${r.alpha}, minimum ${r.minSamples} outcomes per arm, sized for a ${(100 * r.minimumDetectableEffect).toFixed(1)}% lift.`,
    '',
    `**Verdict: ${x.verdict}** → ${r.action === 'promote' ? 'promote the challenger' : r.action === 'rollback' ? 'roll the challenger back' : 'keep collecting'}. ${r.summary}`,
  ].join('\n');
}
