// `check --base <ref>`: judge the working tree's registry against the registry at a base commit.
// It lists every change (versions added, edited, deleted; models renamed; environment moves) and
// enforces the rules that need the base to be decided: immutability of merged versions, semver bumps,
// deletions of versions still in use, dependents broken by a move, and promotion through `requires`.
// The head's own validation (schemas, references) is included, so one command gives the whole verdict.
// The comparison itself: compare-models.ts (models, versions) and compare-environments.ts (deployments,
// promotion), both over the shared context in comparison.ts.
import { checkProductionEvidence } from '../benchmark/gate.ts';
import { productionChanges } from '../benchmark/plan.ts';
import { gatedStages } from '../registry/stages.ts';
import type { ReportSource } from '../benchmark/store.ts';
import { type Diagnostic, DiagnosticSink, compareDiagnostics } from '../registry/diagnostics.ts';
import { GitSource } from '../registry/git-source.ts';
import { type Registry, loadRegistry } from '../registry/load.ts';
import { type RegistrySource, WorkingTreeSource } from '../registry/source.ts';
import { BUMP_RANK, type Bump, type BumpRow, effectiveRank } from './semver-bump.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { compareEnvironments } from './compare-environments.ts';
import { compareModels, detectRenames } from './compare-models.ts';
import { checkLifecycle } from './deprecation-rules.ts';
import { ComparisonContext } from './comparison.ts';

export { MUTABLE_VERSION_FIELDS } from './compare-models.ts';

export type ChangeKind =
  | 'model-added'
  | 'model-deleted'
  | 'model-renamed'
  | 'model-card-edited'
  | 'version-added'
  | 'version-edited'
  | 'version-deleted'
  | 'environment-added'
  | 'environment-deleted'
  | 'environment-edited'
  | 'deployment-added'
  | 'deployment-removed'
  | 'champion-moved'
  | 'canary-added'
  | 'canary-removed'
  | 'canary-moved'
  | 'canary-weight'
  | 'rollback-window';

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
  /**
   * The version it was compared with: the highest earlier one with a lower major.minor.patch (for a
   * card refused for build metadata, its twin).
   */
  previous: string | null;
  actual: Bump | null;
  required: Bump;
  /** Whether the version is accepted: its own bump, and `next` when there is one. */
  ok: boolean;
  duplicateOf?: string;
  /** A version that differs from this one only by build metadata (the one kept; this one is refused). */
  samePrecedenceAs?: string;
  rows: BumpRow[];
  /**
   * For a version inserted below a merged one: that next higher merged version, judged against this one
   * as it now follows it.
   */
  next?: FollowerVerdict;
}

export interface FollowerVerdict {
  version: string;
  actual: Bump;
  required: Bump;
  ok: boolean;
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

export interface CheckOptions {
  maxFileBytes?: number;
}

/** Reads the base with git and the head from the working tree of `repo`, then compares them. */
export function checkAgainstBase(repo: string, baseRef: string, options: CheckOptions = {}): CheckResult {
  return compareWithBase(repo, baseRef, options).result;
}

export function compareWithBase(
  repo: string,
  baseRef: string,
  options: CheckOptions = {},
): ReturnType<typeof compareSources> {
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
export async function addProductionEvidence(
  run: ReturnType<typeof compareSources>,
  evidence: ReportSource,
): Promise<CheckResult> {
  // The final stages of the trusted base (the head's when the base has no environments yet).
  const environments = run.base.environments.size > 0 ? run.base.environments : run.head.environments;
  const gate: Diagnostic[] = [];
  for (const environment of gatedStages(environments, `the registry at ${run.result.base?.ref ?? 'the base'}`)) {
    gate.push(
      ...(await checkProductionEvidence(run.head, productionChanges(run.base, run.head, environment), evidence, {
        environment,
      })),
    );
  }
  const r = run.result;
  r.diagnostics = [...r.diagnostics, ...gate].sort(compareDiagnostics);
  r.errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  r.warnings = r.diagnostics.length - r.errors;
  return r;
}

/** The comparison itself, for any two sources. */
export function checkSources(
  baseSource: RegistrySource,
  headSource: RegistrySource,
  options: CheckOptions = {},
): CheckResult {
  return compareSources(baseSource, headSource, options).result;
}

/** The comparison with the two registries it was made on (the production evidence gate needs them). */
export function compareSources(
  baseSource: RegistrySource,
  headSource: RegistrySource,
  options: CheckOptions = {},
): { result: CheckResult; base: Registry; head: Registry } {
  const baseSink = new DiagnosticSink();
  const base = loadRegistry(baseSource, baseSink, options);
  const headPaths = new Set<string>();
  const recording: RegistrySource = {
    label: headSource.label,
    entries: () =>
      headSource.entries().map((e) => {
        headPaths.add(e.path);
        return e;
      }),
  };
  const validation = validateRegistry(recording, options);
  const cmp = new ComparisonContext(base, validation.registry, headPaths);
  detectRenames(cmp);
  compareModels(cmp);
  compareEnvironments(cmp);
  checkLifecycle(cmp);
  // A check diagnostic that explains a validation one at the same field replaces it.
  const explained = (d: Diagnostic) => cmp.supersedes.has(`${d.file}|${d.field}|${d.rule}`);
  const diagnostics = [...validation.diagnostics.filter((d) => !explained(d)), ...cmp.sink.items].sort(
    compareDiagnostics,
  );
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

export function bumpSummary(v: SemverVerdict): string {
  if (v.samePrecedenceAs)
    return `same precedence as ${v.samePrecedenceAs} (build metadata does not make a new version)`;
  const own =
    v.previous === null
      ? v.next
        ? 'lowest version'
        : 'first version'
      : v.duplicateOf
        ? `duplicate of ${v.duplicateOf}`
        : `${v.actual} over ${v.previous}, needs ${v.required}${effectiveRank(v.previous, v.version) >= BUMP_RANK[v.required] ? '' : ' (too small)'}`;
  if (!v.next) return own;
  const n = v.next;
  const follows = n.required === 'none' ? 'duplicate' : `${n.actual}, needs ${n.required}${n.ok ? '' : ' (too small)'}`;
  return `${own}; ${n.version} over it: ${follows}`;
}
