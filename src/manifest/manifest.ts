// Builds the published manifest from a validated registry: every environment's deployments and, for
// each version any environment references, what a consumer needs to fetch, verify and route it.
// Deterministic: the same registry and header give the same canonical bytes.
import { isIndexable } from '../formats/tensor-index.ts';
import semver from 'semver';
import { canonicalJson } from '../lib/canonical-json.ts';
import { UserError } from '../lib/errors.ts';
import type { Registry } from '../registry/load.ts';
import type { BaseRef, Deployment, Environment, RolloutSpec, VersionCard } from '../registry/types.ts';
import { sha256Hex } from '../lib/hash.ts';
import { STORE_LAYOUT } from '../store/keys.ts';
import { type ManifestDeprecation, readDeprecation } from './deprecation.ts';

export const MANIFEST_SCHEMA_VERSION = 1;
/** Store keys are derived from a file's sha256 with these templates, so the manifest need not repeat them. */

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
  index?: true;
}

export interface ManifestVersion {
  files: ManifestFile[];
  interface: VersionCard['interface'];
  architecture: VersionCard['architecture'];
  dependencies?: Record<string, string>;
  /** What a derived version was made from (the card's `base`); only an adapter needs it at run time. */
  base?: BaseRef;
  /** sha256 of the canonical JSON of the card's lineage: proves which training produced the bytes. */
  lineageDigest: string;
  serving?: VersionCard['serving'];
  benchmark?: BenchmarkSummary;
  /** Present when the card is deprecated: what gateways put in Deprecation/Sunset/Link headers. */
  deprecation?: ManifestDeprecation;
  /** The card's offline evaluation metrics (what `select --min` reads besides the benchmark). */
  metrics?: Record<string, number>;
}

export interface BenchmarkSummary {
  testbed: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  report: string;
  metrics: Record<string, number>;
}

export interface ManifestDeployment {
  version: string;
  canary?: { version: string; weight: number };
  rollbackWindow?: string[];
  /** The automated rollback rule; maxErrorRate in percent, like canary weights. */
  rollout?: { maxErrorRate?: number; maxP99LatencyRatio?: number; failureLimit?: number; minRequests?: number };
  /** For an adapter: the base it runs on here, resolved to the base's champion in this environment. */
  base?: ManifestDeploymentBase;
}

/**
 * An adapter deployment's base in one environment: `version` is the base's champion there (check holds
 * the base's champion and canary inside the range); `range` and `relation` are the adapter champion's own
 * (a canary adapter's are in its models entry).
 */
export interface ManifestDeploymentBase extends BaseRef {
  version: string;
}

export interface Manifest {
  schemaVersion: number;
  sequence: number;
  publishedAt: string;
  expiresAt: string;
  source: { repository: string; commit: string };
  layout: typeof STORE_LAYOUT;
  environments: Record<string, { requires?: string; models: Record<string, ManifestDeployment> }>;
  /** `task` is the model card's (model.yaml), for `select --task`. */
  models: Record<string, { task?: string; versions: Record<string, ManifestVersion> }>;
}

export interface ManifestHeader {
  sequence: number;
  publishedAt: Date;
  expiresAt: Date;
  source: { repository: string; commit: string };
}

export interface BuildOptions {
  /** Benchmark summaries by `model@version`, when reports exist. */
  benchmarks?: Map<string, BenchmarkSummary>;
  /** Whether a file has a per-tensor index in the store (safetensors files do). */
  hasIndex?: (file: { path: string; sha256: string }) => boolean;
}

const defaultHasIndex = (f: { path: string }) => isIndexable(f.path);

export function lineageDigest(card: VersionCard): string {
  return `sha256:${sha256Hex(canonicalJson(card.lineage))}`;
}

function manifestRollout(r: RolloutSpec): NonNullable<ManifestDeployment['rollout']> {
  const { maxErrorRate, ...rest } = r;
  return { ...(maxErrorRate !== undefined ? { maxErrorRate: Number(maxErrorRate.slice(0, -1)) } : {}), ...rest };
}

/** What the manifest says about one version: files to fetch and verify, and how to serve it. */
export function manifestVersion(
  c: VersionCard,
  hasIndex: (f: { path: string; sha256: string }) => boolean = defaultHasIndex,
  bench?: BenchmarkSummary,
): ManifestVersion {
  return {
    files: c.artifacts.map((a) => ({
      path: a.path,
      sha256: a.sha256,
      size: a.size,
      ...(hasIndex(a) ? { index: true as const } : {}),
    })),
    interface: c.interface,
    architecture: c.architecture,
    ...(c.dependencies && Object.keys(c.dependencies).length ? { dependencies: c.dependencies } : {}),
    ...(c.base ? { base: { model: c.base.model, range: c.base.range, relation: c.base.relation } } : {}),
    lineageDigest: lineageDigest(c),
    ...(c.serving ? { serving: c.serving } : {}),
    ...(bench ? { benchmark: bench } : {}),
    ...(c.deprecated ? { deprecation: readDeprecation(c.deprecated, c.name)! } : {}),
    ...(c.metrics && Object.keys(c.metrics).length ? { metrics: c.metrics } : {}),
  };
}

export function buildManifest(reg: Registry, header: ManifestHeader, options: BuildOptions = {}): Manifest {
  const hasIndex = options.hasIndex ?? defaultHasIndex;
  const environments: Manifest['environments'] = {};
  const needed = new Map<string, Set<string>>();
  const need = (model: string, version: string) => {
    let s = needed.get(model);
    if (!s) needed.set(model, (s = new Set()));
    s.add(version);
  };
  for (const env of [...reg.environments.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const models: Record<string, ManifestDeployment> = {};
    for (const [model, d] of [...env.deployments].sort(([a], [b]) => a.localeCompare(b))) {
      models[model] = {
        version: d.version,
        ...(d.canary ? { canary: { version: d.canary.version, weight: Number(d.canary.weight.slice(0, -1)) } } : {}),
        ...(d.rollbackWindow.length ? { rollbackWindow: [...d.rollbackWindow] } : {}),
        ...(d.rollout ? { rollout: manifestRollout(d.rollout) } : {}),
      };
      const base = deploymentBase(reg, env, model, d);
      if (base) models[model]!.base = base;
      need(model, d.version);
      if (d.canary) need(model, d.canary.version);
      for (const r of d.rollbackWindow) need(model, r);
    }
    environments[env.name] = { ...(env.requires !== undefined ? { requires: env.requires } : {}), models };
  }
  const models: Manifest['models'] = {};
  for (const [model, versions] of [...needed].sort(([a], [b]) => a.localeCompare(b))) {
    const out: Record<string, ManifestVersion> = {};
    for (const version of [...versions].sort(semver.rcompare)) {
      const entry = reg.models.get(model)?.versions.get(version);
      if (!entry)
        throw new Error(`manifest: ${model}@${version} is referenced but has no valid card; run validate first`);
      out[version] = manifestVersion(entry.card, hasIndex, options.benchmarks?.get(`${model}@${version}`));
    }
    const task = reg.models.get(model)?.card?.task;
    models[model] = { ...(task ? { task } : {}), versions: out };
  }
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    sequence: header.sequence,
    publishedAt: header.publishedAt.toISOString(),
    expiresAt: header.expiresAt.toISOString(),
    source: header.source,
    layout: STORE_LAYOUT,
    environments,
    models,
  };
}

/**
 * The base an adapter deployed in `env` runs on: its champion's base (or its canary's, when only the canary
 * is an adapter), resolved to the base's champion there. Undefined for models that are not adapters.
 */
function deploymentBase(
  reg: Registry,
  env: Environment,
  model: string,
  d: Deployment,
): ManifestDeploymentBase | undefined {
  const cardOf = (v: string) => reg.models.get(model)?.versions.get(v)?.card;
  const base = [d.version, ...(d.canary ? [d.canary.version] : [])]
    .map((v) => cardOf(v)?.base)
    .find((b) => b?.relation === 'adapter');
  if (!base) return undefined;
  const target = env.deployments.get(base.model);
  if (!target)
    throw new Error(
      `manifest: adapter ${model} in ${env.name} runs on ${base.model}, which is not deployed there; run validate first`,
    );
  return { model: base.model, version: target.version, range: base.range, relation: base.relation };
}

/**
 * One environment of a manifest. A name the manifest lacks is a UserError (the person picked the wrong
 * environment or manifest), worded once here for the CLI, devices and gateways; `where` names the manifest.
 */
export function manifestEnvironment(
  m: Manifest,
  environment: string,
  where = 'the manifest',
): Manifest['environments'][string] {
  const env = Object.hasOwn(m.environments, environment) ? m.environments[environment] : undefined;
  if (!env)
    throw new UserError(
      `${where} has no environment "${environment}" (it has: ${Object.keys(m.environments).sort().join(', ') || 'none'})`,
    );
  return env;
}

/** The part of a manifest one environment needs: what a device of that environment polls. */
export function environmentSlice(m: Manifest, environment: string): Manifest {
  const env = manifestEnvironment(m, environment);
  const models: Manifest['models'] = {};
  for (const [model, d] of Object.entries(env.models)) {
    const keep = [d.version, ...(d.canary ? [d.canary.version] : []), ...(d.rollbackWindow ?? [])];
    const entries = keep.map((v) => {
      const entry = m.models[model]?.versions[v];
      // A signed manifest never does this (publish builds both halves from one registry); a hand-made one can.
      if (!entry)
        throw new UserError(
          `the manifest's environment "${environment}" runs ${model}@${v}, but its models section has no entry for it`,
        );
      return [v, entry] as const;
    });
    models[model] = { versions: Object.fromEntries(entries) };
  }
  return { ...m, environments: { [environment]: env }, models };
}

export function serialiseManifest(m: Manifest): Buffer {
  return Buffer.from(canonicalJson(m));
}
