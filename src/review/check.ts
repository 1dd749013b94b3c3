// `check --base <ref>`: judge the working tree's registry against the registry at a base commit.
// It lists every change (versions added, edited, deleted; models renamed; environment moves) and
// enforces the rules that need the base to be decided: immutability of merged versions, semver bumps,
// deletions of versions still in use, dependents broken by a move, and promotion through `requires`.
// The head's own validation (schemas, references) is included, so one command gives the whole verdict.
import semver from 'semver';
import { checkProductionEvidence } from '../benchmark/gate.ts';
import { productionChanges } from '../benchmark/plan.ts';
import { gatedStages, isFinalStage } from '../registry/stages.ts';
import type { ReportSource } from '../benchmark/store.ts';
import { type Diagnostic, DiagnosticSink, type PathSegment, compareDiagnostics, fieldPath } from '../registry/diagnostics.ts';
import { GitSource } from '../registry/git-source.ts';
import { type Registry, loadRegistry } from '../registry/load.ts';
import { type RegistrySource, WorkingTreeSource } from '../registry/source.ts';
import { type Deployment, type Environment, type VersionCard, referencedVersions } from '../registry/types.ts';
import { type Bump, type BumpRow, BUMP_RANK, actualBump, bumpRows, bumpTable, effectiveRank, requiredBump } from './semver-bump.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES, locate } from '../registry/yaml-file.ts';

/** Fields of a merged version that may still change: wording and later evaluation, nothing that alters the bytes or contract. */
export const MUTABLE_VERSION_FIELDS = new Set(['summary', 'metrics', 'notes', 'deprecated']);

export type ChangeKind =
  | 'model-added' | 'model-deleted' | 'model-renamed' | 'model-card-edited'
  | 'version-added' | 'version-edited' | 'version-deleted'
  | 'environment-added' | 'environment-deleted' | 'environment-edited'
  | 'deployment-added' | 'deployment-removed' | 'champion-moved' | 'canary-added' | 'canary-removed' | 'canary-moved' | 'canary-weight' | 'rollback-window';

export interface Change {
  kind: ChangeKind;
  /** The head file (or, for deletions, the base file). */
  file: string;
  line: number;
  model?: string;
  version?: string;
  environment?: string;
  from?: string;
  to?: string;
  /** Dotted paths of the fields that differ (edits). */
  fields?: string[];
  description: string;
}

export interface SemverVerdict {
  model: string;
  version: string;
  file: string;
  /** The version it was compared with: the highest earlier one with a lower major.minor.patch. */
  previous: string | null;
  actual: Bump | null;
  required: Bump;
  ok: boolean;
  duplicateOf?: string;
  rows: BumpRow[];
}

export interface CheckResult {
  base: { ref: string; commit: string };
  head: string;
  changes: Change[];
  semver: SemverVerdict[];
  diagnostics: Diagnostic[];
  errors: number;
  warnings: number;
  /** Files on the base that did not load (their changes cannot be judged). */
  baseProblems: number;
}

export interface CheckOptions { maxFileBytes?: number }

/** Reads the base with git and the head from the working tree of `repo`, then compares them. */
export function checkAgainstBase(repo: string, baseRef: string, options: CheckOptions = {}): CheckResult {
  return compareWithBase(repo, baseRef, options).result;
}

export function compareWithBase(repo: string, baseRef: string, options: CheckOptions = {}): ReturnType<typeof compareSources> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const baseSource = new GitSource(repo, baseRef, { maxFileBytes });
  const headSource = new WorkingTreeSource(repo, { maxFileBytes });
  const run = compareSources(baseSource, headSource, { maxFileBytes });
  run.result.base = { ref: baseRef, commit: baseSource.commit };
  return run;
}

/**
 * The production evidence gate on top of a comparison: every version entering production needs a
 * passing benchmark report for its artifact digest in `evidence` (see src/benchmark/gate.ts).
 */
export async function addProductionEvidence(run: ReturnType<typeof compareSources>, evidence: ReportSource): Promise<CheckResult> {
  // The final stages of the trusted base (the head's when the base has no environments yet).
  const environments = run.base.environments.size > 0 ? run.base.environments : run.head.environments;
  const gate: Diagnostic[] = [];
  for (const environment of gatedStages(environments, `the registry at ${run.result.base?.ref ?? 'the base'}`)) {
    gate.push(...(await checkProductionEvidence(run.head, productionChanges(run.base, run.head, environment), evidence, { environment })));
  }
  const r = run.result;
  r.diagnostics = [...r.diagnostics, ...gate].sort(compareDiagnostics);
  r.errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  r.warnings = r.diagnostics.length - r.errors;
  return r;
}

/** The comparison itself, for any two sources. */
export function checkSources(baseSource: RegistrySource, headSource: RegistrySource, options: CheckOptions = {}): CheckResult {
  return compareSources(baseSource, headSource, options).result;
}

/** The comparison with the two registries it was made on (the production evidence gate needs them). */
export function compareSources(baseSource: RegistrySource, headSource: RegistrySource, options: CheckOptions = {}): { result: CheckResult; base: Registry; head: Registry } {
  const baseSink = new DiagnosticSink();
  const base = loadRegistry(baseSource, baseSink, options);
  const headPaths = new Set<string>();
  const recording: RegistrySource = { label: headSource.label, entries: () => headSource.entries().map((e) => { headPaths.add(e.path); return e; }) };
  const validation = validateRegistry(recording, options);
  const cmp = new Comparison(base, validation.registry, headPaths);
  cmp.run();
  // A check diagnostic that explains a validation one at the same field replaces it.
  const explained = (d: Diagnostic) => cmp.supersedes.has(`${d.file}|${d.field}|${d.rule}`);
  const diagnostics = [...validation.diagnostics.filter((d) => !explained(d)), ...cmp.sink.items].sort(compareDiagnostics);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const result: CheckResult = {
    base: { ref: baseSource.label, commit: '' },
    head: headSource.label,
    changes: cmp.changes,
    semver: cmp.verdicts,
    diagnostics,
    errors,
    warnings: diagnostics.length - errors,
    baseProblems: baseSink.items.length,
  };
  return { result, base, head: validation.registry };
}

type Role = 'version' | 'canary' | 'rollbackWindow';

/** Path of a version reference inside an environment file, for both the short and the long form. */
function deploymentField(model: string, d: Deployment, role: Role, index = 0): PathSegment[] {
  if (role === 'canary') return ['models', model, 'canary', 'version'];
  if (role === 'rollbackWindow') return ['models', model, 'rollbackWindow', index];
  return d.canary || d.rollbackWindow.length > 0 ? ['models', model, 'version'] : ['models', model];
}

/** Every leaf path where two JSON values differ; lists of different length differ as a whole. */
function diffPaths(a: unknown, b: unknown, path: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  if (a === b) return out;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => diffPaths(x, b[i], [...path, i], out));
    return out;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...path, k], out);
    return out;
  }
  out.push(path);
  return out;
}

function valueAt(v: unknown, path: PathSegment[]): unknown {
  let cur = v;
  for (const s of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}

const short = (v: unknown): string => {
  if (v === undefined) return 'absent';
  const s = JSON.stringify(v);
  return s.length > 72 ? `${s.slice(0, 69)}...` : s;
};

const sortVersions = (vs: Iterable<string>): string[] => [...vs].sort(semver.compare);

class Comparison {
  readonly sink = new DiagnosticSink();
  readonly changes: Change[] = [];
  readonly verdicts: SemverVerdict[] = [];
  readonly supersedes = new Set<string>();
  /** old name -> new name, and back. */
  private readonly renamedTo = new Map<string, string>();
  private readonly renamedFrom = new Map<string, string>();
  private readonly base: Registry;
  private readonly head: Registry;
  private readonly headPaths: Set<string>;

  constructor(base: Registry, head: Registry, headPaths: Set<string>) {
    this.base = base;
    this.head = head;
    this.headPaths = headPaths;
  }

  run(): void {
    this.detectRenames();
    this.compareModels();
    this.compareEnvironments();
  }

  private pos(reg: Registry, file: string, path: PathSegment[], target: 'key' | 'value' = 'value') {
    const y = reg.files.get(file);
    return y ? locate(y, path, target) : { line: 1, column: 1 };
  }

  private report(file: string, path: PathSegment[], message: string, rule: string, opts: { target?: 'key' | 'value'; supersede?: string[]; reg?: Registry } = {}): void {
    const p = this.pos(opts.reg ?? this.head, file, path, opts.target);
    const field = fieldPath(path);
    this.sink.add({ file, line: p.line, column: p.column, field, message, rule });
    for (const r of opts.supersede ?? []) this.supersedes.add(`${file}|${field}|${r}`);
  }

  private change(c: Omit<Change, 'line'>, reg: Registry = this.head, path: PathSegment[] = []): void {
    this.changes.push({ ...c, line: this.pos(reg, c.file, path).line });
  }

  /** The base model a head model continues: the same name, or the one it was renamed from. */
  private baseName(headModel: string): string {
    return this.renamedFrom.get(headModel) ?? headModel;
  }

  private baseCard(headModel: string, version: string): { file: string; card: VersionCard } | undefined {
    return this.base.models.get(this.baseName(headModel))?.versions.get(version);
  }

  // A model folder that disappears while a new one appears holding the same versions with the same
  // artifacts is a rename, not a deletion plus unrelated new versions.
  private detectRenames(): void {
    const gone = [...this.base.models.values()].filter((m) => !this.head.models.has(m.name) && m.versions.size > 0);
    const fresh = [...this.head.models.values()].filter((m) => !this.base.models.has(m.name) && m.versions.size > 0);
    const digest = (c: VersionCard) => c.artifacts.map((a) => `${a.path}:${a.sha256}`).sort().join(',');
    for (const g of gone) {
      const match = fresh.find((f) => {
        if (this.renamedFrom.has(f.name)) return false;
        const common = [...g.versions.keys()].filter((v) => f.versions.has(v));
        return common.length > 0 && common.every((v) => digest(g.versions.get(v)!.card) === digest(f.versions.get(v)!.card));
      });
      if (match) {
        this.renamedTo.set(g.name, match.name);
        this.renamedFrom.set(match.name, g.name);
        this.change({ kind: 'model-renamed', file: match.cardFile, model: match.name, from: g.name, to: match.name, description: `model ${g.name} renamed to ${match.name} (models/${g.name}/ moved to models/${match.name}/)` });
      }
    }
  }

  /** A card with names of renamed models replaced by their new names, so a rename alone is no edit. */
  private renamed(card: VersionCard): VersionCard {
    if (this.renamedTo.size === 0) return card;
    const mapName = (n: string) => this.renamedTo.get(n) ?? n;
    const parent = card.lineage.parent;
    const at = parent?.lastIndexOf('@') ?? -1;
    return {
      ...card,
      name: mapName(card.name),
      lineage: { ...card.lineage, ...(parent !== undefined ? { parent: `${mapName(parent.slice(0, at))}${parent.slice(at)}` } : {}) },
      ...(card.dependencies ? { dependencies: Object.fromEntries(Object.entries(card.dependencies).map(([k, v]) => [mapName(k), v])) } : {}),
    };
  }

  private compareModels(): void {
    for (const m of this.head.models.values()) {
      const baseModel = this.base.models.get(this.baseName(m.name));
      if (!baseModel) this.change({ kind: 'model-added', file: m.cardFile, model: m.name, description: `model ${m.name} added` });
      else if (m.card && baseModel.card) {
        const fields = diffPaths({ ...baseModel.card, name: m.name }, m.card);
        if (fields.length) this.change({ kind: 'model-card-edited', file: m.cardFile, model: m.name, fields: fields.map(fieldPath), description: `${m.cardFile}: ${fields.map(fieldPath).join(', ')} changed` }, this.head, fields[0]!);
      }
      const newVersions: string[] = [];
      for (const [version, { file, card }] of m.versions) {
        const b = this.baseCard(m.name, version);
        if (b) this.compareExisting(m.name, version, file, card, b.card);
        else newVersions.push(version);
      }
      for (const version of sortVersions(newVersions)) this.judgeNewVersion(m.name, version);
    }
    for (const bm of this.base.models.values()) {
      const headName = this.renamedTo.get(bm.name) ?? bm.name;
      const hm = this.head.models.get(headName);
      if (!hm && !this.renamedTo.has(bm.name)) this.change({ kind: 'model-deleted', file: bm.cardFile, model: bm.name, description: `model ${bm.name} deleted` }, this.base);
      if (this.renamedTo.has(bm.name)) this.checkRenameReferences(bm.name, headName);
      for (const [version, { file }] of bm.versions) {
        if (hm?.versions.has(version) || hm?.brokenVersions.has(version)) continue;
        this.change({ kind: 'version-deleted', file, model: bm.name, version, description: `${bm.name} ${version} deleted` }, this.base);
        this.checkDeletion(bm.name, version);
      }
    }
  }

  private compareExisting(model: string, version: string, file: string, card: VersionCard, baseCard: VersionCard): void {
    const paths = diffPaths(this.renamed(baseCard), this.renamed(card));
    if (paths.length === 0) return;
    this.change({ kind: 'version-edited', file, model, version, fields: paths.map(fieldPath), description: `${model} ${version} edited: ${paths.map(fieldPath).join(', ')}` }, this.head, paths[0]!);
    for (const path of paths) {
      if (MUTABLE_VERSION_FIELDS.has(String(path[0]))) continue;
      const before = valueAt(baseCard, path);
      const after = valueAt(card, path);
      const target = after === undefined ? path.slice(0, -1) : path;
      this.report(file, target, `${model} ${version} is already on the base branch, so ${fieldPath(path)} may not change (was ${short(before)}, now ${short(after)}); only ${[...MUTABLE_VERSION_FIELDS].join(', ')} may be edited. Publish the change as a new version instead.`, 'immutable-field');
    }
  }

  private judgeNewVersion(model: string, version: string): void {
    const m = this.head.models.get(model)!;
    const { file, card } = m.versions.get(version)!;
    this.change({ kind: 'version-added', file, model, version, description: `${model} ${version} added` }, this.head, ['version']);
    // Compare with the highest version whose major.minor.patch is lower: 2.0.0-rc.2 and 2.0.0 are both
    // judged against 1.x, so a release may carry its release candidate's weights unchanged.
    const core = (v: string) => `${semver.major(v)}.${semver.minor(v)}.${semver.patch(v)}`;
    const previous = sortVersions(m.versions.keys()).filter((v) => semver.lt(core(v), core(version))).pop() ?? null;
    if (previous === null) {
      this.verdicts.push({ model, version, file, previous: null, actual: null, required: 'none', ok: true, rows: [] });
      return;
    }
    const rows = bumpRows(m.versions.get(previous)!.card, card);
    const required = requiredBump(rows);
    const actual = actualBump(previous, version);
    const verdict: SemverVerdict = { model, version, file, previous, actual, required, ok: true, rows };
    this.verdicts.push(verdict);
    if (required === 'none') {
      verdict.ok = false;
      verdict.duplicateOf = previous;
      this.report(file, ['version'], `${model} ${version} is a duplicate of ${previous}: same artifacts, interface, architecture and lineage. Reuse ${previous} (edit its metrics or notes) instead of publishing a copy.`, 'semver-duplicate');
      return;
    }
    if (effectiveRank(previous, version) < BUMP_RANK[required]) {
      verdict.ok = false;
      const zero = semver.major(previous) === 0 && semver.major(version) === 0;
      const need = zero ? (required === 'major' ? 'minor' : 'patch') : required;
      const next = zero
        ? (required === 'major' ? semver.inc(previous, 'minor') : semver.inc(previous, 'patch'))
        : semver.inc(previous, required as 'major' | 'minor' | 'patch');
      this.report(file, ['version'], `${model} ${version} is a ${actual} bump over ${previous}, but its changes need a ${need} bump${zero ? ` (0.x: a ${required}-level change needs a ${need} bump)` : ''} (e.g. ${next}):\n${bumpTable(rows)}`, 'semver-bump');
    }
  }

  /** After a rename, nothing in the head may still use the old name. */
  private checkRenameReferences(from: string, to: string): void {
    const why = `${from} is renamed to ${to} in this change`;
    for (const env of this.head.environments.values()) {
      if (env.deployments.has(from)) this.report(env.file, ['models', from], `${why}, but ${env.name} still deploys it as ${from}; write ${to}`, 'renamed-model-referenced', { target: 'key', supersede: ['environment-model'] });
    }
    for (const hm of this.head.models.values()) {
      for (const [v, { file, card }] of hm.versions) {
        const parent = card.lineage.parent;
        if (parent?.startsWith(`${from}@`)) this.report(file, ['lineage', 'parent'], `${why}, but ${hm.name}@${v} names ${parent} as lineage.parent; write ${to}${parent.slice(from.length)}`, 'renamed-model-referenced', { supersede: ['lineage-parent'] });
        if (card.dependencies?.[from] !== undefined) this.report(file, ['dependencies', from], `${why}, but ${hm.name}@${v} still depends on ${from}; write ${to}`, 'renamed-model-referenced', { target: 'key', supersede: ['dependency-unknown'] });
      }
    }
  }

  /** A deleted version must no longer be named by an environment, a dependency range or a lineage. */
  private checkDeletion(model: string, version: string): void {
    const renamedNote = this.renamedTo.has(model) ? ` (the model was renamed to ${this.renamedTo.get(model)})` : '';
    for (const env of this.head.environments.values()) {
      const d = env.deployments.get(model);
      if (!d) continue;
      for (const ref of referencedVersions(d)) {
        if (ref.version !== version) continue;
        this.report(env.file, deploymentField(model, d, ref.role, ref.index), `${model} ${version} is deleted in this change, but ${env.name} still lists it as ${ref.role === 'version' ? 'champion' : ref.role === 'canary' ? 'canary' : 'a rollback target'}${renamedNote}`, 'version-deleted-referenced', { supersede: ['environment-version', 'environment-model'] });
      }
    }
    const remaining = [...(this.head.models.get(model)?.versions.keys() ?? [])];
    for (const hm of this.head.models.values()) {
      for (const [v, { file, card }] of hm.versions) {
        const who = `${hm.name}@${v}`;
        if (card.lineage.parent === `${model}@${version}`) {
          this.report(file, ['lineage', 'parent'], `${model} ${version} is deleted in this change, but ${who} names it as lineage.parent${renamedNote}`, 'version-deleted-referenced', { supersede: ['lineage-parent'] });
        }
        const range = card.dependencies?.[model];
        if (range !== undefined && semver.validRange(range) !== null && semver.satisfies(version, range) && !remaining.some((r) => semver.satisfies(r, range))) {
          this.report(file, ['dependencies', model], `${model} ${version} is deleted in this change, but ${who} depends on ${model} ${range} and no remaining version satisfies it${renamedNote}`, 'version-deleted-referenced', { target: 'key', supersede: ['dependency-unknown'] });
        }
      }
    }
  }

  /**
   * End of a requires chain (nothing requires it): the stage that faces users, which takes no prereleases.
   * Decided on the base's environments when it has any, so a pull request cannot add an environment
   * requiring production just to let a prerelease in.
   */
  private acceptsPrereleases(env: string): boolean {
    return !isFinalStage(this.trustedEnvironments(), env);
  }

  /** The base's environments when it has any (a pull request cannot redraw the stages it is judged by). */
  private trustedEnvironments(): Registry['environments'] {
    return this.base.environments.size > 0 ? this.base.environments : this.head.environments;
  }

  private compareEnvironments(): void {
    const bootstrap = this.base.environments.size === 0;
    for (const env of this.head.environments.values()) {
      const baseEnv = this.base.environments.get(env.name);
      if (!baseEnv) this.change({ kind: 'environment-added', file: env.file, environment: env.name, description: `environment ${env.name} added` });
      else if (baseEnv.requires !== env.requires) this.change({ kind: 'environment-edited', file: env.file, environment: env.name, from: baseEnv.requires ?? '-', to: env.requires ?? '-', description: `${env.name} now requires ${env.requires ?? 'nothing'} (was ${baseEnv.requires ?? 'nothing'})` }, this.head, ['requires']);
      for (const [model, d] of env.deployments) this.compareDeployment(env, baseEnv, model, d, bootstrap);
      for (const [model] of baseEnv?.deployments ?? []) {
        const headName = this.renamedTo.get(model) ?? model;
        if (!env.deployments.has(headName)) this.change({ kind: 'deployment-removed', file: env.file, environment: env.name, model, description: `${model} removed from ${env.name}` }, this.head, ['models']);
      }
    }
    for (const baseEnv of this.base.environments.values()) {
      if (!this.head.environments.has(baseEnv.name) && !this.headPaths.has(baseEnv.file)) {
        this.change({ kind: 'environment-deleted', file: baseEnv.file, environment: baseEnv.name, description: `environment ${baseEnv.name} deleted` }, this.base);
      }
    }
  }

  private compareDeployment(env: Environment, baseEnv: Environment | undefined, model: string, d: Deployment, bootstrap: boolean): void {
    const b = baseEnv?.deployments.get(this.baseName(model));
    const where = `${model} in ${env.name}`;
    const at = (role: Role, index?: number) => deploymentField(model, d, role, index);
    if (!b) this.change({ kind: 'deployment-added', file: env.file, environment: env.name, model, to: d.version, description: `${where}: added at ${d.version}` }, this.head, at('version'));
    else {
      if (b.version !== d.version) this.change({ kind: 'champion-moved', file: env.file, environment: env.name, model, from: b.version, to: d.version, description: `${where}: ${b.version} -> ${d.version}` }, this.head, at('version'));
      if (!b.canary && d.canary) this.change({ kind: 'canary-added', file: env.file, environment: env.name, model, to: d.canary.version, description: `${where}: canary ${d.canary.version} at ${d.canary.weight} added` }, this.head, at('canary'));
      else if (b.canary && !d.canary) this.change({ kind: 'canary-removed', file: env.file, environment: env.name, model, from: b.canary.version, description: `${where}: canary ${b.canary.version} removed` }, this.head, at('version'));
      else if (b.canary && d.canary) {
        if (b.canary.version !== d.canary.version) this.change({ kind: 'canary-moved', file: env.file, environment: env.name, model, from: b.canary.version, to: d.canary.version, description: `${where}: canary ${b.canary.version} -> ${d.canary.version}` }, this.head, at('canary'));
        if (b.canary.weight !== d.canary.weight) this.change({ kind: 'canary-weight', file: env.file, environment: env.name, model, from: b.canary.weight, to: d.canary.weight, description: `${where}: canary weight ${b.canary.weight} -> ${d.canary.weight}` }, this.head, ['models', model, 'canary', 'weight']);
      }
      if (b.rollbackWindow.join() !== d.rollbackWindow.join()) this.change({ kind: 'rollback-window', file: env.file, environment: env.name, model, from: b.rollbackWindow.join(', '), to: d.rollbackWindow.join(', '), description: `${where}: rollbackWindow [${b.rollbackWindow.join(', ')}] -> [${d.rollbackWindow.join(', ')}]` }, this.head, ['models', model, 'rollbackWindow']);
    }

    // A version "enters" when it did not run here on the base in any role (champion, canary or
    // rollback target): bringing back a rollback target or promoting the canary is not an entry.
    const held = new Set(b ? referencedVersions(b).map((r) => r.version) : []);
    const served: { version: string; role: Role }[] = [{ version: d.version, role: 'version' }, ...(d.canary ? [{ version: d.canary.version, role: 'canary' as const }] : [])];
    for (const s of served) {
      const before = b ? (s.role === 'canary' ? b.canary?.version : b.version) : undefined;
      if (before !== s.version) this.checkDependents(env, model, s.version, s.role, before, at(s.role));
      if (held.has(s.version)) continue;
      const what = s.role === 'canary' ? 'canary' : 'champion';
      if (semver.prerelease(s.version) && !this.acceptsPrereleases(env.name)) {
        this.report(env.file, at(s.role), `${model} ${s.version} is a prerelease and cannot enter ${env.name} (as ${what}): prereleases may only run in environments that another environment requires (${[...this.head.environments.values()].filter((e) => this.acceptsPrereleases(e.name)).map((e) => e.name).join(', ') || 'none here'})`, 'prerelease-environment');
      }
      if (!bootstrap) this.checkPromotion(env, baseEnv, model, s.version, s.role, at(s.role));
    }
    d.rollbackWindow.forEach((v, i) => {
      if (!held.has(v)) this.report(env.file, at('rollbackWindow', i), `${model} ${v} was not in ${env.name} on the base, so it cannot be a rollback target; rollbackWindow lists versions that already ran here`, 'rollback-window-new');
    });
  }

  // Promotion goes one stage at a time: the environment this one requires must have held the very
  // same version on the base. The gate is the base's `requires` when the environment existed there,
  // so a pull request cannot loosen its own gate.
  private checkPromotion(env: Environment, baseEnv: Environment | undefined, model: string, version: string, role: Role, path: PathSegment[]): void {
    const requires = baseEnv ? baseEnv.requires : env.requires;
    if (requires === undefined) return;
    const what = role === 'canary' ? 'canary' : 'champion';
    const stage = this.base.environments.get(requires);
    if (!stage) {
      this.report(env.file, path, `${model} ${version} cannot enter ${env.name} (as ${what}): it requires ${requires}, which does not exist on the base branch`, 'promotion-skipped-stage');
      return;
    }
    const sd = stage.deployments.get(this.baseName(model));
    if (sd && (sd.version === version || sd.canary?.version === version)) return;
    const there = sd ? `${requires} held ${sd.version}${sd.canary ? ` (canary ${sd.canary.version})` : ''}` : `${model} was not deployed in ${requires}`;
    this.report(env.file, path, `${model} ${version} cannot enter ${env.name} (as ${what}): ${env.name} requires ${requires}, and on the base branch ${there}. Promote ${version} to ${requires} first, merge, then promote it here.`, 'promotion-skipped-stage');
  }

  /** Moving a model to a version outside a deployed dependent's range breaks that dependent. */
  private checkDependents(env: Environment, model: string, version: string, role: Role, from: string | undefined, path: PathSegment[]): void {
    const broken: string[] = [];
    for (const [other, od] of env.deployments) {
      for (const v of [od.version, ...(od.canary ? [od.canary.version] : [])]) {
        const range = this.head.models.get(other)?.versions.get(v)?.card.dependencies?.[model];
        if (range === undefined || semver.validRange(range) === null) continue;
        if (!semver.satisfies(version, range)) broken.push(`${other}@${v} needs ${model} ${range}`);
      }
    }
    if (broken.length === 0) return;
    const move = from ? `from ${from} to ${version}` : `to ${version}`;
    this.report(env.file, path, `moving ${model}${role === 'canary' ? ' (canary)' : ''} in ${env.name} ${move} breaks its dependent${broken.length > 1 ? 's' : ''}: ${broken.join('; ')}`, 'dependency-broken-by-move', { supersede: ['dependency-range-unsatisfied'] });
  }
}

export function bumpSummary(v: SemverVerdict): string {
  if (v.previous === null) return 'first version';
  if (v.duplicateOf) return `duplicate of ${v.duplicateOf}`;
  return `${v.actual} over ${v.previous}, needs ${v.required}${v.ok ? '' : ' (too small)'}`;
}
