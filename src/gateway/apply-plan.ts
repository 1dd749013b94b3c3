// What applying a manifest changes, decided without loading anything, so it can be tested without a
// loader: which versions to load, which loaded ones carry over or retire, what the version source may
// keep cached, and how each canary's rollback record and measurement window carry over. gateway.ts
// runs the I/O around these decisions: plan → load → reconcile rollbacks → switch.
//
// The rollback part is decided in a second step (planRollbacks), after the loads have settled: a
// canary that fails to load is rolled back, and while versions load a canary may trip or an operator
// may clear a rollback, so it must read the records as they are then, not as they were before loading.
import { UserError } from '../lib/errors.ts';
import { type Manifest, type ManifestVersion, manifestEnvironment } from '../manifest/manifest.ts';
import type { CanaryTracker, RollbackRecord, RolloutRule } from './rollout.ts';

/** A loaded version's identity in the gateway: `model@version`. */
export const slotKey = (model: string, version: string): string => `${model}@${version}`;

/** Why the environment references a version; the first role wins when a version has several. */
export type VersionRole = 'champion' | 'canary' | 'rollback';

export interface PlannedVersion {
  key: string;
  model: string;
  version: string;
  entry: ManifestVersion;
  role: VersionRole;
}

/** What the source may keep cached: its retain() argument. */
export interface RetainedVersion {
  model: string;
  version: string;
  entry: ManifestVersion;
}

/** One deployment of the environment, with the rollout rule that applies to it. */
export interface PlannedDeployment {
  model: string;
  champion: string;
  canary: string | undefined;
  rule: RolloutRule | undefined;
}

/** What a canary tracker contributes to the decision whether its window carries over. */
export type TrackerIdentity = Pick<CanaryTracker, 'champion' | 'canary' | 'rule' | 'tripped'>;

/** The part of the generation being served that a plan reads (the gateway's own generation fits). */
export interface ServingSnapshot {
  manifest: Manifest;
  /** Loaded versions by slotKey. */
  slots: ReadonlyMap<string, { model: string; version: string }>;
  /** Canary trackers by model. */
  trackers: ReadonlyMap<string, TrackerIdentity>;
}

export interface ApplyPlan {
  sequence: number;
  /** Every version the environment references, once, in manifest order. */
  wanted: PlannedVersion[];
  /** Of `wanted`, the versions not loaded yet. */
  load: PlannedVersion[];
  /** Of `wanted`, the slots already loaded: they carry over as they are. */
  keep: string[];
  /** Loaded slots the manifest no longer references: retired after the switch. */
  retire: string[];
  /** This manifest's versions plus those of the one it replaces (one step back stays cached). */
  retain: RetainedVersion[];
  /** Every deployment, in manifest order: whose rollback records and trackers to reconcile. */
  deployments: PlannedDeployment[];
}

export interface PlanOptions {
  /** Rule for deployments whose manifest entry has no `rollout`. */
  defaultRollout?: RolloutRule | undefined;
}

/** Decides what applying `manifest` to `environment` loads, keeps and retires. Throws a UserError when
 * the environment is missing or references a version the manifest has no entry for. */
export function planApply(
  current: ServingSnapshot | undefined,
  manifest: Manifest,
  environment: string,
  options: PlanOptions = {},
): ApplyPlan {
  const env = manifestEnvironment(manifest, environment);
  const wanted: PlannedVersion[] = [];
  const deployments: PlannedDeployment[] = [];
  for (const [model, d] of Object.entries(env.models)) {
    deployments.push({
      model,
      champion: d.version,
      canary: d.canary?.version,
      rule: d.rollout ?? options.defaultRollout,
    });
    const roles: [string, VersionRole][] = [
      [d.version, 'champion'],
      ...(d.canary ? [[d.canary.version, 'canary'] as [string, VersionRole]] : []),
      ...(d.rollbackWindow ?? []).map((v) => [v, 'rollback'] as [string, VersionRole]),
    ];
    for (const [version, role] of roles) {
      const entry = manifest.models[model]?.versions[version];
      if (!entry)
        throw new UserError(`the manifest references ${model}@${version} in "${environment}" but has no entry for it`);
      const key = slotKey(model, version);
      if (!wanted.some((w) => w.key === key)) wanted.push({ key, model, version, entry, role });
    }
  }
  const loaded = current?.slots ?? new Map<string, never>();
  const wantedKeys = new Set(wanted.map((w) => w.key));
  const retain = new Map<string, RetainedVersion>(
    wanted.map(({ key, model, version, entry }) => [key, { model, version, entry }]),
  );
  for (const [key, { model, version }] of loaded) {
    const entry = current!.manifest.models[model]?.versions[version];
    if (entry && !retain.has(key)) retain.set(key, { model, version, entry });
  }
  return {
    sequence: manifest.sequence,
    wanted,
    load: wanted.filter((w) => !loaded.has(w.key)),
    keep: wanted.filter((w) => loaded.has(w.key)).map((w) => w.key),
    retire: [...loaded.keys()].filter((key) => !wantedKeys.has(key)),
    retain: [...retain.values()],
    deployments,
  };
}

/** A canary that failed to load and has no rollback record yet: rolled back by this manifest. */
export interface NewRollback {
  model: string;
  canary: string;
  champion: string;
  reason: string;
}

/** A canary that takes traffic: measured by its previous tracker (`carryOver`) or a new one. */
export interface PlannedTracker {
  model: string;
  champion: string;
  canary: string;
  rule: RolloutRule | undefined;
  carryOver: boolean;
}

export interface RollbackPlan {
  /** Models whose rollback record the manifest voids: its canary changed or is gone. */
  clear: string[];
  record: NewRollback[];
  /** Models whose canary gets no traffic (a record still holds, or it failed to load), in manifest order. */
  suppressed: string[];
  trackers: PlannedTracker[];
}

export interface RollbackInputs {
  /** The persisted rollback records, as they are after loading. */
  rolledBack: Readonly<Record<string, RollbackRecord>>;
  /** The trackers of the generation being replaced. */
  trackers: ReadonlyMap<string, TrackerIdentity>;
  /** Per model, why its canary failed to load. */
  canaryFailures: ReadonlyMap<string, string>;
}

/** A recorded rollback holds while the manifest keeps the same canary version; a manifest that changes
 * or removes the canary voids it. A tracker's window carries over only while it measures the same
 * canary against the same champion under the same rule, and has not tripped. */
export function planRollbacks(plan: Pick<ApplyPlan, 'deployments'>, inputs: RollbackInputs): RollbackPlan {
  const out: RollbackPlan = { clear: [], record: [], suppressed: [], trackers: [] };
  for (const d of plan.deployments) {
    const rec = inputs.rolledBack[d.model];
    const voided = rec !== undefined && rec.canaryVersion !== d.canary;
    if (voided) out.clear.push(d.model);
    if (d.canary === undefined) continue;
    const held = rec !== undefined && !voided;
    const failure = inputs.canaryFailures.get(d.model);
    const reason = `canary failed to load: ${failure}`;
    if (failure !== undefined && !held)
      out.record.push({ model: d.model, canary: d.canary, champion: d.champion, reason });
    if (held || failure !== undefined) {
      out.suppressed.push(d.model);
      continue;
    }
    const prev = inputs.trackers.get(d.model);
    const carryOver =
      prev !== undefined &&
      prev.canary === d.canary &&
      prev.champion === d.champion &&
      !prev.tripped &&
      sameRule(prev.rule, d.rule);
    out.trackers.push({ model: d.model, champion: d.champion, canary: d.canary, rule: d.rule, carryOver });
  }
  return out;
}

function sameRule(a: RolloutRule | undefined, b: RolloutRule | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
