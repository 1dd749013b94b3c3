// Which versions a pull request brings into a final stage (as champion or canary) that the stage did not
// already serve: what the benchmark workflow runs and what checkProductionEvidence is called with.
// "Final stage" is registry/stages.ts's: the end of the requires chain, whatever it is called.
import type { Registry } from '../registry/load.ts';
import { gatedStages } from '../registry/stages.ts';
import type { ProductionChange } from './gate.ts';

/** The trusted base's final stages (the head's while the base has no environments yet). */
export function finalStagesOf(base: Registry, head: Registry): string[] {
  return gatedStages(base.environments.size > 0 ? base.environments : head.environments, 'the registry');
}

/** Changes entering `environment`, or every final stage when none is named (deduplicated). */
export function productionChanges(base: Registry, head: Registry, environment?: string): ProductionChange[] {
  if (environment === undefined) {
    const seen = new Set<string>();
    return finalStagesOf(base, head)
      .flatMap((env) => productionChanges(base, head, env))
      .filter((c) => {
        const k = `${c.model}@${c.version}:${c.role}`;
        return !seen.has(k) && seen.add(k);
      });
  }
  const before = base.environments.get(environment)?.deployments;
  const after = head.environments.get(environment)?.deployments;
  const out: ProductionChange[] = [];
  for (const [model, d] of [...(after ?? new Map())].sort(([a], [b]) => a.localeCompare(b))) {
    const b = before?.get(model);
    const served = new Set([b?.version, b?.canary?.version].filter((v): v is string => v !== undefined));
    if (!served.has(d.version)) out.push({ model, version: d.version, role: 'version' });
    if (d.canary && !served.has(d.canary.version)) out.push({ model, version: d.canary.version, role: 'canary' });
  }
  return out;
}

export interface PlanEntry {
  model: string;
  version: string;
  runs_on: string[];
}

/** The benchmark matrix: each change with the runner labels of its model's recipe on the trusted base. */
export function benchmarkPlan(base: Registry, head: Registry, warn: (line: string) => void = () => {}): PlanEntry[] {
  const plan = new Map<string, PlanEntry>();
  for (const environment of finalStagesOf(base, head)) {
    for (const c of productionChanges(base, head, environment)) {
      const recipe = base.models.get(c.model)?.card?.benchmark;
      const key = `${c.model}@${c.version}`;
      if (plan.has(key)) continue; // one benchmark serves every final stage the version enters
      if (!recipe) {
        warn(
          `${key} enters ${environment} but models/${c.model}/model.yaml on the base branch has no benchmark recipe; the ${environment} gate will refuse it`,
        );
        continue;
      }
      plan.set(key, { model: c.model, version: c.version, runs_on: recipe.runner ?? ['self-hosted', 'gpu'] });
    }
  }
  return [...plan.values()];
}
