// Where each version runs: one reading of the environments, shared by `ls` and the site.
import semver from 'semver';
import type { Registry } from './load.ts';

export interface Placement {
  environment: string;
  role: 'champion' | 'canary' | 'rollback';
  weight?: string;
}

/** For every model and version: the environments that run it, and in which role. */
export function placements(reg: Registry): Map<string, Map<string, Placement[]>> {
  const out = new Map<string, Map<string, Placement[]>>();
  for (const m of reg.models.values()) {
    const versions = new Map<string, Placement[]>();
    for (const v of [...m.versions.keys()].sort(semver.rcompare)) versions.set(v, []);
    out.set(m.name, versions);
  }
  for (const env of reg.environments.values()) {
    for (const [model, d] of env.deployments) {
      const versions = out.get(model);
      versions?.get(d.version)?.push({ environment: env.name, role: 'champion' });
      if (d.canary)
        versions?.get(d.canary.version)?.push({ environment: env.name, role: 'canary', weight: d.canary.weight });
      for (const r of d.rollbackWindow) versions?.get(r)?.push({ environment: env.name, role: 'rollback' });
    }
  }
  return out;
}
