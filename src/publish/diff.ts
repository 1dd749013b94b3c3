// What changed between two manifests, per environment: what devices will see change (publish output,
// history, the action's job summary).
import { canonicalJson } from '../lib/canonical-json.ts';
import type { Manifest, ManifestDeployment } from '../manifest/manifest.ts';

export interface DeploymentChange {
  model: string;
  before: string | null;
  after: string | null;
}
export interface EnvironmentChanges {
  environment: string;
  status: 'added' | 'removed' | 'changed' | 'unchanged';
  changes: DeploymentChange[];
}

export function describeDeployment(d: ManifestDeployment): string {
  const parts = [d.version];
  if (d.canary) parts.push(`canary ${d.canary.version} ${d.canary.weight}%`);
  if (d.rollbackWindow?.length) parts.push(`rollback ${d.rollbackWindow.join(',')}`);
  return parts.join(', ');
}

/** Per environment (union of both), the models whose deployment changed. `prev` undefined = first publication. */
export function manifestChanges(prev: Manifest | undefined, next: Manifest): EnvironmentChanges[] {
  const names = [...new Set([...Object.keys(prev?.environments ?? {}), ...Object.keys(next.environments)])].sort();
  return names.map((environment) => {
    const a = prev?.environments[environment];
    const b = next.environments[environment];
    const models = [...new Set([...Object.keys(a?.models ?? {}), ...Object.keys(b?.models ?? {})])].sort();
    const changes: DeploymentChange[] = [];
    for (const model of models) {
      const before = a?.models[model] ? describeDeployment(a.models[model]!) : null;
      const after = b?.models[model] ? describeDeployment(b.models[model]!) : null;
      // Same deployment, but what it points at changed (e.g. a benchmark summary arrived for the version).
      const entries = (m: Manifest | undefined, d: ManifestDeployment | undefined) =>
        d && m
          ? canonicalJson(
              [d.version, d.canary?.version, ...(d.rollbackWindow ?? [])]
                .filter(Boolean)
                .map((ver) => m.models[model]?.versions[ver!] ?? null),
            )
          : '';
      if (before !== after) changes.push({ model, before, after });
      else if (b && entries(prev, a?.models[model]) !== entries(next, b.models[model]))
        changes.push({ model, before, after: `${after} (metadata updated)` });
    }
    const status = !a ? 'added' : !b ? 'removed' : changes.length ? 'changed' : 'unchanged';
    return { environment, status, changes };
  });
}

export function formatChanges(envs: EnvironmentChanges[]): string[] {
  const out: string[] = [];
  for (const e of envs) {
    if (e.status === 'unchanged') {
      out.push(`${e.environment}: unchanged`);
      continue;
    }
    out.push(`${e.environment}${e.status === 'changed' ? '' : ` (${e.status})`}:`);
    for (const c of e.changes) out.push(`  ${c.model}: ${c.before ?? '(none)'} -> ${c.after ?? '(removed)'}`);
  }
  return out;
}
