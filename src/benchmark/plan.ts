// Which versions a pull request brings into production (as champion or canary) that production did not
// already serve: what the benchmark workflow runs and what checkProductionEvidence is called with.
import type { Registry } from '../registry/load.ts';
import type { ProductionChange } from './gate.ts';

export function productionChanges(base: Registry, head: Registry, environment = 'production'): ProductionChange[] {
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

export interface PlanEntry { model: string; version: string; runs_on: string[] }

/** The benchmark matrix: each change with the runner labels of its model's recipe on the trusted base. */
export function benchmarkPlan(base: Registry, head: Registry, warn: (line: string) => void = () => {}): PlanEntry[] {
  const plan: PlanEntry[] = [];
  for (const c of productionChanges(base, head)) {
    const recipe = base.models.get(c.model)?.card?.benchmark;
    if (!recipe) { warn(`${c.model}@${c.version} enters production but models/${c.model}/model.yaml on the base branch has no benchmark recipe; the production gate will refuse it`); continue; }
    plan.push({ model: c.model, version: c.version, runs_on: recipe.runner ?? ['self-hosted', 'gpu'] });
  }
  return plan;
}
