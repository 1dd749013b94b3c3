// Promotion gate for the final stage (production, whatever the registry calls it: registry/stages.ts):
// a version entering it (as champion or canary) needs a benchmark report in the store that (1) is for
// exactly the card's artifact digest, (2) ran on the testbed the model's recipe names, and (3) has
// verdict pass. Diagnostics point at the environment file's line and say how to produce the evidence.
import { UserError } from '../lib/errors.ts';
import { artifactDigest } from '../registry/artifact-digest.ts';
import type { Diagnostic, PathSegment } from '../registry/diagnostics.ts';
import { fieldPath } from '../registry/diagnostics.ts';
import type { Registry } from '../registry/load.ts';
import { gatedStages } from '../registry/stages.ts';
import { locate } from '../registry/yaml-file.ts';
import { parseReport } from './report.ts';
import { type ReportSource, reportKey } from './store.ts';
import { testbedName } from './testbed.ts';

export interface ProductionChange {
  model: string;
  version: string;
  /** How the version enters production: as the champion or as a canary (default version). */
  role?: 'version' | 'canary';
}

export interface GateOptions {
  /** The final stage the changes enter; default the registry's one final stage. */
  environment?: string;
  workflow?: string;
}

/** The registry's only final stage; with several, the caller must say which one it gates. */
export function soleFinalStage(registry: Registry): string {
  const finals = gatedStages(registry.environments, 'the registry');
  if (finals.length > 1)
    throw new UserError(
      `the registry has ${finals.length} final stages (${finals.join(', ')}): name the environment to gate`,
    );
  return finals[0]!;
}

export const BENCHMARK_WORKFLOW = '.github/workflows/benchmark.yml';

function howToProduce(model: string, version: string, runner: string[] | undefined, workflow: string): string {
  const labels = runner?.length ? `[${runner.join(', ')}]` : "the recipe's runner";
  return (
    `produce it with the benchmark workflow (${workflow}): a maintainer comments "/benchmark" on the pull request or adds the "benchmark" label; it runs on ${labels}. ` +
    `On such a runner by hand: node scripts/run-benchmark.ts --model ${model} --version ${version} --champion production --weights-root <dir> --report-store <store>`
  );
}

export async function checkProductionEvidence(
  registry: Registry,
  changedProductionVersions: ProductionChange[],
  reportSource: ReportSource,
  options: GateOptions = {},
): Promise<Diagnostic[]> {
  const envName = options.environment ?? soleFinalStage(registry);
  const workflow = options.workflow ?? BENCHMARK_WORKFLOW;
  const env = registry.environments.get(envName);
  const file = env?.file ?? `environments/${envName}.yaml`;
  const out: Diagnostic[] = [];
  for (const change of changedProductionVersions) {
    const { model, version } = change;
    const d = env?.deployments.get(model);
    const path: PathSegment[] =
      change.role === 'canary'
        ? ['models', model, 'canary', 'version']
        : d && (d.canary || d.rollbackWindow.length)
          ? ['models', model, 'version']
          : ['models', model];
    const y = registry.files.get(file);
    const pos = y ? locate(y, path) : { line: 1, column: 1 };
    const report = (message: string) =>
      out.push({
        file,
        line: pos.line,
        column: pos.column,
        field: fieldPath(path),
        message,
        rule: 'production-benchmark',
        severity: 'error',
      });

    const card = registry.models.get(model)?.versions.get(version)?.card;
    if (!card) continue; // an unknown version is reported by the reference rules
    const recipe = registry.models.get(model)?.card?.benchmark;
    if (!recipe) {
      report(
        `${model}@${version} cannot enter ${envName}: models/${model}/model.yaml has no benchmark recipe, so no benchmark can show it is fit; add benchmark.command, runner, workload, thresholds and regression`,
      );
      continue;
    }
    const digest = artifactDigest(card);
    const testbed = testbedName(recipe);
    const key = reportKey(model, version, testbed);
    const how = howToProduce(model, version, recipe.runner, workflow);
    const bytes = await reportSource.get(key);
    if (bytes === undefined) {
      report(
        `${model}@${version} cannot enter ${envName}: no benchmark evidence. It needs a passing report for artifact digest ${digest} on testbed "${testbed}" at ${key}; ${how}`,
      );
      continue;
    }
    let r;
    try {
      r = parseReport(bytes, key);
    } catch (e) {
      report(`${model}@${version} cannot enter ${envName}: ${(e as Error).message}; ${how}`);
      continue;
    }
    const problems: string[] = [];
    if (r.model !== model || r.version !== version)
      problems.push(`the report at ${key} is for ${r.model}@${r.version}`);
    if (r.artifactDigest !== digest)
      problems.push(
        `the report measured artifact digest ${r.artifactDigest}, but the card's artifacts give ${digest} (the weights changed after the benchmark)`,
      );
    if (r.testbed.name !== testbed)
      problems.push(`the report ran on testbed "${r.testbed.name}", the recipe requires "${testbed}"`);
    if (problems.length) {
      report(`${model}@${version} cannot enter ${envName}: ${problems.join('; ')}; re-run the benchmark: ${how}`);
      continue;
    }
    if (r.decision.verdict !== 'pass') {
      report(
        `${model}@${version} cannot enter ${envName}: its benchmark on "${testbed}" is ${r.decision.verdict} (${r.decision.reasons.slice(0, 3).join('; ')}). ${r.decision.verdict === 'inconclusive' ? `Re-run with more runs: ${how}` : 'Fix the regression and benchmark the new version.'}`,
      );
    }
  }
  return out;
}
