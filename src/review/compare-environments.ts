// The environment half of the base comparison: deployments added, moved or removed, and the rules
// on what may enter an environment: promotion one stage at a time through `requires`, no
// prereleases in a final stage, rollback targets that already ran there, and dependents kept whole.
import semver from 'semver';
import type { PathSegment } from '../registry/diagnostics.ts';
import type { Registry } from '../registry/load.ts';
import { isFinalStage } from '../registry/stages.ts';
import { type Deployment, type Environment, referencedVersions } from '../registry/types.ts';
import { type ComparisonContext, type Role, deploymentField } from './comparison.ts';

/**
 * End of a requires chain (nothing requires it): the stage that faces users, which takes no prereleases.
 * Decided on the base's environments when it has any, so a pull request cannot add an environment
 * requiring production just to let a prerelease in.
 */
function acceptsPrereleases(ctx: ComparisonContext, env: string): boolean {
  return !isFinalStage(trustedEnvironments(ctx), env);
}

/** The base's environments when it has any (a pull request cannot redraw the stages it is judged by). */
function trustedEnvironments(ctx: ComparisonContext): Registry['environments'] {
  return ctx.base.environments.size > 0 ? ctx.base.environments : ctx.head.environments;
}

/** Environments and their deployments, head against base (after the model comparison). */
export function compareEnvironments(ctx: ComparisonContext): void {
  const bootstrap = ctx.base.environments.size === 0;
  for (const env of ctx.head.environments.values()) {
    const baseEnv = ctx.base.environments.get(env.name);
    if (!baseEnv)
      ctx.change({
        kind: 'environment-added',
        file: env.file,
        environment: env.name,
        description: `environment ${env.name} added`,
      });
    else if (baseEnv.requires !== env.requires)
      ctx.change(
        {
          kind: 'environment-edited',
          file: env.file,
          environment: env.name,
          from: baseEnv.requires ?? '-',
          to: env.requires ?? '-',
          description: `${env.name} now requires ${env.requires ?? 'nothing'} (was ${baseEnv.requires ?? 'nothing'})`,
        },
        ctx.head,
        ['requires'],
      );
    for (const [model, d] of env.deployments) compareDeployment(ctx, env, baseEnv, model, d, bootstrap);
    for (const [model] of baseEnv?.deployments ?? []) {
      const headName = ctx.renamedTo.get(model) ?? model;
      if (!env.deployments.has(headName))
        ctx.change(
          {
            kind: 'deployment-removed',
            file: env.file,
            environment: env.name,
            model,
            description: `${model} removed from ${env.name}`,
          },
          ctx.head,
          ['models'],
        );
    }
  }
  for (const baseEnv of ctx.base.environments.values()) {
    if (!ctx.head.environments.has(baseEnv.name) && !ctx.headPaths.has(baseEnv.file)) {
      ctx.change(
        {
          kind: 'environment-deleted',
          file: baseEnv.file,
          environment: baseEnv.name,
          description: `environment ${baseEnv.name} deleted`,
        },
        ctx.base,
      );
    }
  }
}

function compareDeployment(
  ctx: ComparisonContext,
  env: Environment,
  baseEnv: Environment | undefined,
  model: string,
  d: Deployment,
  bootstrap: boolean,
): void {
  const b = baseEnv?.deployments.get(ctx.baseName(model));
  const where = `${model} in ${env.name}`;
  const at = (role: Role, index?: number) => deploymentField(model, d, role, index);
  if (!b)
    ctx.change(
      {
        kind: 'deployment-added',
        file: env.file,
        environment: env.name,
        model,
        to: d.version,
        description: `${where}: added at ${d.version}`,
      },
      ctx.head,
      at('version'),
    );
  else {
    if (b.version !== d.version)
      ctx.change(
        {
          kind: 'champion-moved',
          file: env.file,
          environment: env.name,
          model,
          from: b.version,
          to: d.version,
          description: `${where}: ${b.version} -> ${d.version}`,
        },
        ctx.head,
        at('version'),
      );
    if (!b.canary && d.canary)
      ctx.change(
        {
          kind: 'canary-added',
          file: env.file,
          environment: env.name,
          model,
          to: d.canary.version,
          description: `${where}: canary ${d.canary.version} at ${d.canary.weight} added`,
        },
        ctx.head,
        at('canary'),
      );
    else if (b.canary && !d.canary)
      ctx.change(
        {
          kind: 'canary-removed',
          file: env.file,
          environment: env.name,
          model,
          from: b.canary.version,
          description: `${where}: canary ${b.canary.version} removed`,
        },
        ctx.head,
        at('version'),
      );
    else if (b.canary && d.canary) {
      if (b.canary.version !== d.canary.version)
        ctx.change(
          {
            kind: 'canary-moved',
            file: env.file,
            environment: env.name,
            model,
            from: b.canary.version,
            to: d.canary.version,
            description: `${where}: canary ${b.canary.version} -> ${d.canary.version}`,
          },
          ctx.head,
          at('canary'),
        );
      if (b.canary.weight !== d.canary.weight)
        ctx.change(
          {
            kind: 'canary-weight',
            file: env.file,
            environment: env.name,
            model,
            from: b.canary.weight,
            to: d.canary.weight,
            description: `${where}: canary weight ${b.canary.weight} -> ${d.canary.weight}`,
          },
          ctx.head,
          ['models', model, 'canary', 'weight'],
        );
    }
    if (b.rollbackWindow.join() !== d.rollbackWindow.join())
      ctx.change(
        {
          kind: 'rollback-window',
          file: env.file,
          environment: env.name,
          model,
          from: b.rollbackWindow.join(', '),
          to: d.rollbackWindow.join(', '),
          description: `${where}: rollbackWindow [${b.rollbackWindow.join(', ')}] -> [${d.rollbackWindow.join(', ')}]`,
        },
        ctx.head,
        ['models', model, 'rollbackWindow'],
      );
  }

  // A version "enters" when it did not run here on the base in any role (champion, canary or
  // rollback target): bringing back a rollback target or promoting the canary is not an entry.
  const held = new Set(b ? referencedVersions(b).map((r) => r.version) : []);
  const served: { version: string; role: Role }[] = [
    { version: d.version, role: 'version' },
    ...(d.canary ? [{ version: d.canary.version, role: 'canary' as const }] : []),
  ];
  for (const s of served) {
    const before = b ? (s.role === 'canary' ? b.canary?.version : b.version) : undefined;
    if (before !== s.version) {
      checkDependents(ctx, env, model, s.version, s.role, before, at(s.role));
      checkAdapters(ctx, env, model, s.version, s.role, before, at(s.role));
    }
    if (held.has(s.version)) continue;
    const what = s.role === 'canary' ? 'canary' : 'champion';
    if (semver.prerelease(s.version) && !acceptsPrereleases(ctx, env.name)) {
      ctx.report(
        env.file,
        at(s.role),
        `${model} ${s.version} is a prerelease and cannot enter ${env.name} (as ${what}): prereleases may only run in environments that another environment requires (${
          [...ctx.head.environments.values()]
            .filter((e) => acceptsPrereleases(ctx, e.name))
            .map((e) => e.name)
            .join(', ') || 'none here'
        })`,
        'prerelease-environment',
      );
    }
    if (!bootstrap) checkPromotion(ctx, env, baseEnv, model, s.version, s.role, at(s.role));
  }
  d.rollbackWindow.forEach((v, i) => {
    if (!held.has(v))
      ctx.report(
        env.file,
        at('rollbackWindow', i),
        `${model} ${v} was not in ${env.name} on the base, so it cannot be a rollback target; rollbackWindow lists versions that already ran here`,
        'rollback-window-new',
      );
  });
}

// Promotion goes one stage at a time: the environment this one requires must have held the very
// same version on the base. The gate is the base's `requires` when the environment existed there,
// so a pull request cannot loosen its own gate.
function checkPromotion(
  ctx: ComparisonContext,
  env: Environment,
  baseEnv: Environment | undefined,
  model: string,
  version: string,
  role: Role,
  path: PathSegment[],
): void {
  const requires = baseEnv ? baseEnv.requires : env.requires;
  if (requires === undefined) return;
  const what = role === 'canary' ? 'canary' : 'champion';
  const stage = ctx.base.environments.get(requires);
  if (!stage) {
    ctx.report(
      env.file,
      path,
      `${model} ${version} cannot enter ${env.name} (as ${what}): it requires ${requires}, which does not exist on the base branch`,
      'promotion-skipped-stage',
    );
    return;
  }
  const sd = stage.deployments.get(ctx.baseName(model));
  if (sd && (sd.version === version || sd.canary?.version === version)) return;
  const there = sd
    ? `${requires} held ${sd.version}${sd.canary ? ` (canary ${sd.canary.version})` : ''}`
    : `${model} was not deployed in ${requires}`;
  ctx.report(
    env.file,
    path,
    `${model} ${version} cannot enter ${env.name} (as ${what}): ${env.name} requires ${requires}, and on the base branch ${there}. Promote ${version} to ${requires} first, merge, then promote it here.`,
    'promotion-skipped-stage',
  );
}

/** Moving a model to a version outside a deployed dependent's range breaks that dependent. */
function checkDependents(
  ctx: ComparisonContext,
  env: Environment,
  model: string,
  version: string,
  role: Role,
  from: string | undefined,
  path: PathSegment[],
): void {
  const broken: string[] = [];
  for (const [other, od] of env.deployments) {
    for (const v of [od.version, ...(od.canary ? [od.canary.version] : [])]) {
      const range = ctx.head.models.get(other)?.versions.get(v)?.card.dependencies?.[model];
      if (range === undefined || semver.validRange(range) === null) continue;
      if (!semver.satisfies(version, range)) broken.push(`${other}@${v} needs ${model} ${range}`);
    }
  }
  if (broken.length === 0) return;
  const move = from ? `from ${from} to ${version}` : `to ${version}`;
  ctx.report(
    env.file,
    path,
    `moving ${model}${role === 'canary' ? ' (canary)' : ''} in ${env.name} ${move} breaks its dependent${broken.length > 1 ? 's' : ''}: ${broken.join('; ')}`,
    'dependency-broken-by-move',
    { supersede: ['dependency-range-unsatisfied'] },
  );
}

/**
 * Moving a base model to a version outside the range of an adapter deployed on it breaks that adapter
 * (merged, quantized and fine-tuned models carry their own weights and do not need their base at run time).
 */
function checkAdapters(
  ctx: ComparisonContext,
  env: Environment,
  model: string,
  version: string,
  role: Role,
  from: string | undefined,
  path: PathSegment[],
): void {
  const broken: string[] = [];
  for (const [other, od] of env.deployments) {
    for (const v of [od.version, ...(od.canary ? [od.canary.version] : [])]) {
      const base = ctx.head.models.get(other)?.versions.get(v)?.card.base;
      if (!base || base.relation !== 'adapter' || base.model !== model) continue;
      if (semver.validRange(base.range) === null) continue; // reported on the card
      if (!semver.satisfies(version, base.range)) broken.push(`${other} ${v} (range ${base.range})`);
    }
  }
  if (broken.length === 0) return;
  const move = from ? `from ${from} to ${version}` : `to ${version}`;
  ctx.report(
    env.file,
    path,
    `moving ${model}${role === 'canary' ? ' (canary)' : ''} in ${env.name} ${move} breaks ${broken.length > 1 ? `${broken.length} adapters` : 'an adapter'} that run${broken.length > 1 ? '' : 's'} on it: ${broken.join(', ')}; move ${broken.length > 1 ? 'them' : 'it'} to a version whose base range includes ${version}, or keep ${model} in range`,
    'base-broken-by-move',
    { supersede: ['base-range-unsatisfied'] },
  );
}
