// Rules that span files: references between environments, versions and models must all resolve.
// Each rule reports at the exact field that names the missing or conflicting thing.
import semver from 'semver';
import { type DiagnosticSink, type PathSegment, fieldPath } from './diagnostics.ts';
import type { Registry } from './load.ts';
import { type BaseRef, type Deployment, type Environment, type VersionCard, referencedVersions } from './types.ts';
import { locate } from './yaml-file.ts';
import { hasPickleExtension } from './pickle.ts';

type Report = (
  file: string,
  path: PathSegment[],
  message: string,
  rule: string,
  target?: 'key' | 'value',
  severity?: 'error' | 'warning',
) => void;

export function checkRegistryRules(reg: Registry, sink: DiagnosticSink): void {
  const report: Report = (file, path, message, rule, target = 'value', severity = 'error') => {
    const y = reg.files.get(file);
    const pos = y ? locate(y, path, target) : { line: 1, column: 1 };
    sink.add({ file, line: pos.line, column: pos.column, field: fieldPath(path), message, rule, severity });
  };
  checkModels(reg, report);
  checkVersionCards(reg, report);
  for (const env of reg.environments.values()) checkEnvironment(reg, env, report);
  checkRequiresChains(reg, report);
}

function checkModels(reg: Registry, report: Report): void {
  for (const m of reg.models.values()) {
    if (m.cardPresent) continue;
    const first = [...m.versions.values()][0];
    if (first)
      report(
        first.file,
        ['name'],
        `model "${m.name}" has no models/${m.name}/model.yaml; every model needs one (owners, task, description)`,
        'model-card-missing',
      );
  }
}

const SEGMENT_FORBIDDEN = new Set(['', '.', '..']);

function checkVersionCards(reg: Registry, report: Report): void {
  for (const m of reg.models.values()) {
    // Build metadata does not count for precedence: 1.0.0+a and 1.0.0+b are the same version. Of such
    // twins the one without build metadata is the version (else the first listed); the others are
    // reported, whatever order the files come in. (`check --base` moves this to the card it adds.)
    const byPrecedence = new Map<string, string>();
    for (const version of m.versions.keys()) {
      const key = semver.parse(version)!.version;
      const kept = byPrecedence.get(key);
      if (kept === undefined || (kept !== key && version === key)) byPrecedence.set(key, version);
    }
    for (const [version, { file, card }] of m.versions) {
      const twin = byPrecedence.get(semver.parse(version)!.version)!;
      if (twin !== version)
        report(
          file,
          ['version'],
          `version ${version} has the same precedence as ${twin}; build metadata (+...) does not make a new version`,
          'identity-duplicate',
        );

      const seen = new Map<string, number>();
      card.artifacts.forEach((a, i) => {
        const segments = a.path.split('/');
        if (segments.some((s) => SEGMENT_FORBIDDEN.has(s))) {
          report(
            file,
            ['artifacts', i, 'path'],
            `path "${a.path}" must be a plain relative path: no "..", "." or empty segments`,
            'artifact-path',
          );
          return;
        }
        if (a.pickle || hasPickleExtension(a.path))
          report(
            file,
            ['artifacts', i, a.pickle ? 'pickle' : 'path'],
            `${a.path} is pickle-based: loading it runs code chosen by whoever wrote it; convert it to safetensors${a.pickle ? '' : ', or mark it pickle: true (push --allow-pickle) once you trust its origin'}`,
            'artifact-pickle',
            'value',
            'warning',
          );
        const folded = a.path.toLowerCase();
        const prev = seen.get(folded);
        if (prev !== undefined) {
          report(
            file,
            ['artifacts', i, 'path'],
            `path "${a.path}" is listed twice (also artifacts[${prev}]${card.artifacts[prev]!.path !== a.path ? ', differing only in case' : ''})`,
            'artifact-duplicate',
          );
        } else seen.set(folded, i);
      });

      for (const [dep, range] of Object.entries(card.dependencies ?? {})) {
        if (dep === card.name)
          report(file, ['dependencies', dep], 'a model cannot depend on itself', 'dependency-self', 'key');
        else if (!reg.models.has(dep))
          report(
            file,
            ['dependencies', dep],
            `depends on "${dep}", which is not a model in models/`,
            'dependency-unknown',
            'key',
          );
        if (semver.validRange(range) === null)
          report(
            file,
            ['dependencies', dep],
            `"${range}" is not a valid semver range (e.g. ^2.0.0, >=1.2 <2)`,
            'dependency-range',
          );
      }

      if (card.base) checkBaseRef(reg, file, card.name, card.base, report);

      const parent = card.lineage.parent;
      if (parent !== undefined) {
        const at = parent.lastIndexOf('@');
        const pName = parent.slice(0, at);
        const pVersion = parent.slice(at + 1);
        if (pName === card.name && pVersion === card.version)
          report(file, ['lineage', 'parent'], 'a version cannot be its own parent', 'lineage-parent');
        else if (
          reg.models.has(pName) &&
          !reg.models.get(pName)!.versions.has(pVersion) &&
          !reg.models.get(pName)!.brokenVersions.has(pVersion)
        ) {
          report(
            file,
            ['lineage', 'parent'],
            `parent ${parent} does not exist: ${pName} has no version ${pVersion}`,
            'lineage-parent',
          );
        }
      }
    }
  }
}

/**
 * A card's `base`: a valid semver range, not itself. Only an adapter runs on its base (merged, quantized and
 * fine-tuned weights are self-contained), so only an adapter's base must be a model here with a version in range;
 * a derived model may name a base that lives outside this registry.
 */
function checkBaseRef(reg: Registry, file: string, name: string, base: BaseRef, report: Report): void {
  if (base.model === name) {
    report(file, ['base', 'model'], 'a version cannot be its own base', 'base-self');
    return;
  }
  if (semver.validRange(base.range) === null) {
    report(
      file,
      ['base', 'range'],
      `"${base.range}" is not a valid semver range of ${base.model} versions (e.g. ^1.0.0, >=1.2 <2)`,
      'base-range',
    );
    return;
  }
  if (base.relation !== 'adapter') return;
  const entry = reg.models.get(base.model);
  if (!entry) {
    report(
      file,
      ['base', 'model'],
      `adapter's base "${base.model}" is not a model in models/; an adapter runs on its base, so the base must be registered`,
      'base-unknown',
    );
    return;
  }
  const known = [...entry.versions.keys(), ...entry.brokenVersions];
  if (known.length > 0 && !known.some((v) => semver.satisfies(v, base.range)))
    report(
      file,
      ['base', 'range'],
      `no version of ${base.model} satisfies ${base.range} (known: ${known.sort(semver.rcompare).slice(0, 5).join(', ')})`,
      'base-range-unmatched',
    );
}

function checkEnvironment(reg: Registry, env: Environment, report: Report): void {
  // Past its sunset (YYYY-MM-DD compares as text) the version should have left: warn wherever it still runs.
  const today = new Date().toISOString().slice(0, 10);
  const sunsetWarning = (
    model: string,
    d: Deployment,
    ref: ReturnType<typeof referencedVersions>[number],
    card?: VersionCard,
  ) => {
    const dep = card?.deprecated;
    if (typeof dep !== 'object' || dep.sunset === undefined || dep.sunset > today) return;
    const use = dep.replacement
      ? `; move to ${dep.replacement.includes('@') ? dep.replacement : `${model}@${dep.replacement}`}`
      : '';
    report(
      env.file,
      fieldOf(model, d, ref.role, ref.index),
      `${model}@${ref.version} is past its sunset (${dep.sunset}) and still in ${env.name} as ${ref.role}${use}`,
      'environment-sunset',
      'value',
      'warning',
    );
  };
  for (const [model, d] of env.deployments) {
    const entry = reg.models.get(model);
    if (!entry) {
      const guess = [...reg.models.keys()].find((n) => n.startsWith(model.slice(0, 4)));
      report(
        env.file,
        ['models', model],
        `model "${model}" does not exist in models/${guess ? `; did you mean "${guess}"?` : ''}`,
        'environment-model',
        'key',
      );
      continue;
    }
    for (const ref of referencedVersions(d)) {
      const path = fieldOf(model, d, ref.role, ref.index);
      if (!entry.versions.has(ref.version) && !entry.brokenVersions.has(ref.version)) {
        const known = [...entry.versions.keys()].sort(semver.rcompare).slice(0, 5);
        report(
          env.file,
          path,
          `${model} has no version ${ref.version}${known.length ? ` (known: ${known.join(', ')})` : ''}`,
          'environment-version',
        );
      }
    }
    if (d.canary && d.canary.version === d.version)
      report(
        env.file,
        ['models', model, 'canary', 'version'],
        `canary ${d.canary.version} is already the champion version`,
        'environment-canary',
      );
    d.rollbackWindow.forEach((v, i) => {
      if (v === d.version || v === d.canary?.version)
        report(
          env.file,
          ['models', model, 'rollbackWindow', i],
          `rollback target ${v} is the version being served; roll back to an earlier one`,
          'environment-rollback',
        );
    });
    const champion = entry.versions.get(d.version);
    if (champion?.card.deprecated)
      report(
        env.file,
        fieldOf(model, d, 'version'),
        `${model}@${d.version} is marked deprecated`,
        'environment-deprecated',
        'value',
        'warning',
      );
    for (const ref of referencedVersions(d)) sunsetWarning(model, d, ref, entry.versions.get(ref.version)?.card);
  }
  checkDependencies(reg, env, report);
  checkAdapterBases(reg, env, report);
}

/** Path of a version reference inside an environment file, for both the short and the long form. */
function fieldOf(
  model: string,
  d: Deployment,
  role: 'version' | 'canary' | 'rollbackWindow',
  index?: number,
): PathSegment[] {
  if (role === 'canary') return ['models', model, 'canary', 'version'];
  if (role === 'rollbackWindow') return ['models', model, 'rollbackWindow', index ?? 0];
  return d.canary || d.rollbackWindow.length > 0 ? ['models', model, 'version'] : ['models', model];
}

function checkDependencies(reg: Registry, env: Environment, report: Report): void {
  for (const [model, d] of env.deployments) {
    const served = [
      { version: d.version, role: 'version' as const },
      ...(d.canary ? [{ version: d.canary.version, role: 'canary' as const }] : []),
    ];
    for (const s of served) {
      const card = reg.models.get(model)?.versions.get(s.version)?.card;
      if (!card) continue;
      for (const [dep, range] of Object.entries(card.dependencies ?? {})) {
        if (semver.validRange(range) === null || !reg.models.has(dep)) continue; // reported on the card
        const target = env.deployments.get(dep);
        const who = `${model}@${s.version}`;
        if (!target) {
          report(
            env.file,
            fieldOf(model, d, s.role),
            `${who} depends on ${dep} ${range}, but ${dep} is not deployed in ${env.name}`,
            'dependency-missing',
          );
          continue;
        }
        const candidates = [
          { v: target.version, what: 'champion' },
          ...(target.canary ? [{ v: target.canary.version, what: 'canary' }] : []),
        ];
        for (const c of candidates) {
          if (!semver.satisfies(c.v, range)) {
            report(
              env.file,
              fieldOf(dep, target, c.what === 'canary' ? 'canary' : 'version'),
              `${dep} ${c.v} (${c.what} in ${env.name}) does not satisfy ${who}'s dependency range ${range}`,
              'dependency-range-unsatisfied',
            );
          }
        }
      }
    }
  }
}

/**
 * Every adapter an environment serves (champion or canary) needs its base in the same environment, with the
 * base's champion and canary both inside the adapter's range: a gateway may pair the adapter with either.
 */
function checkAdapterBases(reg: Registry, env: Environment, report: Report): void {
  for (const [model, d] of env.deployments) {
    const served = [
      { version: d.version, role: 'version' as const },
      ...(d.canary ? [{ version: d.canary.version, role: 'canary' as const }] : []),
    ];
    for (const s of served) {
      const base = reg.models.get(model)?.versions.get(s.version)?.card.base;
      if (!base || base.relation !== 'adapter' || base.model === model) continue;
      if (semver.validRange(base.range) === null || !reg.models.has(base.model)) continue; // reported on the card
      const who = `adapter ${model}@${s.version}`;
      const target = env.deployments.get(base.model);
      if (!target) {
        report(
          env.file,
          fieldOf(model, d, s.role),
          `${who} runs on ${base.model} ${base.range}, but ${base.model} is not deployed in ${env.name}; deploy a ${base.model} version in that range here too`,
          'base-missing',
        );
        continue;
      }
      const candidates = [
        { v: target.version, what: 'champion' as const },
        ...(target.canary ? [{ v: target.canary.version, what: 'canary' as const }] : []),
      ];
      for (const c of candidates)
        if (!semver.satisfies(c.v, base.range))
          report(
            env.file,
            fieldOf(base.model, target, c.what === 'canary' ? 'canary' : 'version'),
            `${base.model} ${c.v} (${c.what} in ${env.name}) is outside the base range of ${who}: ${base.range}`,
            'base-range-unsatisfied',
          );
    }
  }
}

function checkRequiresChains(reg: Registry, report: Report): void {
  for (const env of reg.environments.values()) {
    if (env.requires === undefined) continue;
    if (env.requires === env.name) {
      report(env.file, ['requires'], `${env.name} cannot require itself`, 'requires-cycle');
      continue;
    }
    if (!reg.environments.has(env.requires)) {
      if (reg.brokenEnvironments.has(env.requires)) continue; // the file exists; its own errors are reported there
      report(
        env.file,
        ['requires'],
        `requires "${env.requires}", but there is no environments/${env.requires}.yaml`,
        'requires-unknown',
      );
      continue;
    }
    // Walk the chain; a cycle is reported once, on the environment with the smallest name in it.
    const chain = [env.name];
    let cur = reg.environments.get(env.requires);
    while (cur) {
      if (chain.includes(cur.name)) {
        const cycle = chain.slice(chain.indexOf(cur.name));
        if (cur.name === env.name && env.name === [...cycle].sort()[0]) {
          report(
            env.file,
            ['requires'],
            `requires chain is a cycle: ${[...cycle, cur.name].join(' -> ')}`,
            'requires-cycle',
          );
        }
        break;
      }
      chain.push(cur.name);
      cur = cur.requires === undefined ? undefined : reg.environments.get(cur.requires);
    }
  }
}
