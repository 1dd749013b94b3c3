// The lifecycle rules of `check --base`: promoting a deprecated version is warned about, and refused
// from its sunset on (naming the replacement); an archived version may not be referenced by any
// environment (archive took it out of all of them, kept in git only for the record).
import { describeDeprecation, isPastSunset, readDeprecation } from '../manifest/deprecation.ts';
import { type PathSegment, fieldPath } from '../registry/diagnostics.ts';
import { locate } from '../registry/yaml-file.ts';
import { referencedVersions } from '../registry/types.ts';
import { type ComparisonContext, deploymentField } from './comparison.ts';

export function checkLifecycle(cmp: ComparisonContext, now: Date = new Date()): void {
  const add = (file: string, path: PathSegment[], message: string, rule: string, severity: 'error' | 'warning') => {
    const y = cmp.head.files.get(file);
    const pos = y ? locate(y, path) : { line: 1, column: 1 };
    cmp.sink.add({ file, line: pos.line, column: pos.column, field: fieldPath(path), message, rule, severity });
  };
  for (const env of cmp.head.environments.values()) {
    const baseEnv = cmp.base.environments.get(env.name);
    for (const [model, d] of env.deployments) {
      const before = baseEnv?.deployments.get(cmp.baseName(model));
      const served = new Set(before ? [before.version, ...(before.canary ? [before.canary.version] : [])] : []);
      for (const ref of referencedVersions(d)) {
        const card = cmp.head.models.get(model)?.versions.get(ref.version)?.card;
        if (!card) continue; // a missing version is the reference rules' to report
        const path = deploymentField(model, d, ref.role, ref.index);
        if (card.archived) {
          add(
            env.file,
            path,
            `${model}@${ref.version} was archived on ${card.archived.on}${card.archived.reason ? ` (${card.archived.reason})` : ''}; ` +
              'an archived version cannot run anywhere: pick another version, or remove archived from its card first',
            'environment-archived',
            'error',
          );
          continue;
        }
        // Promotion means starting to serve it (champion or canary); a rollback target is not promoted.
        if (ref.role === 'rollbackWindow' || served.has(ref.version)) continue;
        const dep = readDeprecation(card.deprecated, model);
        if (!dep) continue;
        const instead = dep.replacement ? `; promote ${dep.replacement} instead` : '';
        if (isPastSunset(dep, now))
          add(
            env.file,
            path,
            `${model}@${ref.version} cannot be promoted to ${env.name}: its sunset was ${dep.sunset}${instead}`,
            'promotion-sunset',
            'error',
          );
        else
          add(
            env.file,
            path,
            `${model}@${ref.version} is promoted to ${env.name} but is ${describeDeprecation(dep)}${instead}`,
            'promotion-deprecated',
            'warning',
          );
      }
    }
  }
}
