// The apply plan on its own: what a manifest loads, keeps and retires, and how rollback records and
// canary trackers carry over, decided from plain data (no source, no loader, no I/O).
import { describe, expect, it } from 'vitest';
import { type ServingSnapshot, planApply, planRollbacks } from '../../src/gateway/apply-plan.ts';
import type { CanaryTracker, RollbackRecord } from '../../src/gateway/rollout.ts';
import type { Manifest, ManifestDeployment } from '../../src/manifest/manifest.ts';
import { demoManifest } from './demo-manifest.ts';

const M = 'intent-classifier';
const P = 'pii-scrubber';
type Tracker = Pick<CanaryTracker, 'champion' | 'canary' | 'rule' | 'tripped'>;

/** What a gateway serving `manifest` holds: every version it references, loaded. */
function serving(manifest: Manifest): ServingSnapshot {
  const slots = new Map<string, { model: string; version: string }>();
  for (const [model, d] of Object.entries(manifest.environments.production!.models)) {
    const versions = [d.version, ...(d.canary ? [d.canary.version] : []), ...(d.rollbackWindow ?? [])];
    for (const version of versions) slots.set(`${model}@${version}`, { model, version });
  }
  return { manifest, slots, trackers: new Map() };
}

type Deployments = Record<string, ManifestDeployment>;
const plan = (current: ServingSnapshot | undefined, deployments: Deployments, sequence = 2) =>
  planApply(current, demoManifest(deployments, { sequence }), 'production');
const record = (canaryVersion: string, champion = '2.0.0'): RollbackRecord => ({
  canaryVersion,
  champion,
  reason: 'failureLimit: 3 failed',
  at: '2026-11-24T10:00:00.000Z',
  manifestSequence: 1,
});
interface RollbackState {
  rolledBack?: Record<string, RollbackRecord>;
  trackers?: Record<string, Tracker>;
  failures?: Record<string, string>;
}
/** planRollbacks for a manifest of `deployments`, with the records, previous trackers and canary load failures given. */
const rollbacks = (deployments: Deployments, inputs: RollbackState = {}) =>
  planRollbacks(plan(undefined, deployments), {
    rolledBack: inputs.rolledBack ?? {},
    trackers: new Map(Object.entries(inputs.trackers ?? {})),
    canaryFailures: new Map(Object.entries(inputs.failures ?? {})),
  });

describe('planApply', () => {
  it('loads everything the first manifest references, once, with its role', () => {
    // 2.1.0 is both canary and in the rollback window: loaded once, as the canary.
    const p = plan(
      undefined,
      { [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 10 }, rollbackWindow: ['1.1.0', '2.1.0'] } },
      1,
    );
    expect(p.sequence).toBe(1);
    expect(p.load.map((w) => [w.key, w.role])).toEqual([
      [`${M}@2.0.0`, 'champion'],
      [`${M}@2.1.0`, 'canary'],
      [`${M}@1.1.0`, 'rollback'],
    ]);
    expect(p.load[0]!.entry.files.map((f) => f.path)).toContain('model.safetensors');
    expect(p.wanted).toEqual(p.load);
    expect(p.keep).toEqual([]);
    expect(p.retire).toEqual([]);
    expect(p.retain.map((r) => `${r.model}@${r.version}`)).toEqual([`${M}@2.0.0`, `${M}@2.1.0`, `${M}@1.1.0`]);
    expect(p.deployments).toEqual([{ model: M, champion: '2.0.0', canary: '2.1.0', rule: undefined }]);
  });

  it('loads a new version, keeps an unchanged one and retires what is no longer referenced', () => {
    const current = serving(demoManifest({ [M]: { version: '2.0.0' }, [P]: { version: '1.4.1' } }));
    const p = plan(current, { [M]: { version: '2.1.0' }, [P]: { version: '1.4.1' } });
    expect(p.load.map((w) => w.key)).toEqual([`${M}@2.1.0`]);
    expect(p.keep).toEqual([`${P}@1.4.1`]);
    expect(p.retire).toEqual([`${M}@2.0.0`]);
    // The replaced version stays cached one step: the source may free neither.
    expect(p.retain.map((r) => `${r.model}@${r.version}`)).toEqual([`${M}@2.1.0`, `${P}@1.4.1`, `${M}@2.0.0`]);
  });

  it('a manifest that changes nothing loads nothing and retires nothing', () => {
    const deployments = { [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 10 } } };
    const p = plan(serving(demoManifest(deployments)), deployments);
    expect(p.load).toEqual([]);
    expect(p.keep).toEqual([`${M}@2.0.0`, `${M}@2.1.0`]);
    expect(p.retire).toEqual([]);
  });

  it('retires every version of a model the manifest no longer deploys', () => {
    const both = { [M]: { version: '2.0.0' }, [P]: { version: '1.4.2', canary: { version: '1.4.1', weight: 5 } } };
    const p = plan(serving(demoManifest(both)), { [M]: { version: '2.0.0' } });
    expect(p.load).toEqual([]);
    expect(p.retire).toEqual([`${P}@1.4.2`, `${P}@1.4.1`]);
    expect(p.deployments.map((d) => d.model)).toEqual([M]);
  });

  it('loads an added canary and retires a removed one', () => {
    const current = serving(demoManifest({ [M]: { version: '2.0.0' } }));
    const added = plan(current, { [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 25 } } });
    expect(added.load.map((w) => [w.key, w.role])).toEqual([[`${M}@2.1.0`, 'canary']]);
    expect(added.deployments[0]).toMatchObject({ champion: '2.0.0', canary: '2.1.0' });

    const withCanary = serving(demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 25 } } }));
    const removed = plan(withCanary, { [M]: { version: '2.0.0' } });
    expect(removed.load).toEqual([]);
    expect(removed.retire).toEqual([`${M}@2.1.0`]);
    expect(removed.deployments[0]).toMatchObject({ champion: '2.0.0', canary: undefined });
  });

  it('keeps a champion that moves into the rollback window and retires the version that leaves it', () => {
    const current = serving(demoManifest({ [M]: { version: '2.0.0', rollbackWindow: ['1.1.0', '1.0.0'] } }));
    const p = plan(current, { [M]: { version: '2.1.0', rollbackWindow: ['2.0.0', '1.1.0'] } });
    expect(p.load.map((w) => w.key)).toEqual([`${M}@2.1.0`]);
    expect(p.keep).toEqual([`${M}@2.0.0`, `${M}@1.1.0`]);
    expect(p.wanted.find((w) => w.version === '2.0.0')?.role).toBe('rollback');
    expect(p.retire).toEqual([`${M}@1.0.0`]);
  });

  it("resolves each deployment's rule: its own, else the default", () => {
    const m = demoManifest({
      [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 5 }, rollout: { failureLimit: 3 } },
      [P]: { version: '1.4.2', canary: { version: '1.4.1', weight: 5 } },
    });
    const p = planApply(undefined, m, 'production', { defaultRollout: { maxErrorRate: 5 } });
    expect(p.deployments.map((d) => d.rule)).toEqual([{ failureLimit: 3 }, { maxErrorRate: 5 }]);
  });

  it('refuses a missing environment or a version without an entry, before anything loads', () => {
    expect(() => planApply(undefined, demoManifest({ [M]: { version: '2.0.0' } }), 'staging')).toThrow(
      'the manifest has no environment "staging" (it has: production)',
    );
    expect(() => plan(undefined, { [M]: { version: '2.0.0', rollbackWindow: ['9.9.9'] } })).toThrow(
      `the manifest references ${M}@9.9.9 in "production" but has no entry for it`,
    );
  });

  it('does not change the generation it plans from', () => {
    const current = serving(demoManifest({ [M]: { version: '2.0.0' } }));
    const before = [...current.slots.keys()];
    plan(current, { [M]: { version: '2.1.0' } });
    expect([...current.slots.keys()]).toEqual(before);
  });
});

describe('planRollbacks', () => {
  const canary = (rollout?: ManifestDeployment['rollout']): Deployments => ({
    [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 40 }, ...(rollout ? { rollout } : {}) },
  });
  const tracker = (over: Partial<Tracker> = {}): Tracker => ({
    champion: '2.0.0',
    canary: '2.1.0',
    rule: { failureLimit: 3 },
    tripped: false,
    ...over,
  });

  it('a recorded rollback holds while the manifest keeps the same canary: suppressed, no tracker', () => {
    const r = rollbacks(canary({ failureLimit: 3 }), { rolledBack: { [M]: record('2.1.0') } });
    expect(r).toEqual({ clear: [], record: [], suppressed: [M], trackers: [] });
  });

  it('a manifest that changes or removes the canary voids its record', () => {
    const newCanary = { [M]: { version: '2.0.0', canary: { version: '1.1.0', weight: 40 } } };
    const changed = rollbacks(newCanary, { rolledBack: { [M]: record('2.1.0') } });
    expect(changed.clear).toEqual([M]);
    expect(changed.suppressed).toEqual([]);
    expect(changed.trackers).toEqual([
      { model: M, champion: '2.0.0', canary: '1.1.0', rule: undefined, carryOver: false },
    ]);
    const removed = rollbacks({ [M]: { version: '2.0.0' } }, { rolledBack: { [M]: record('2.1.0') } });
    expect(removed).toEqual({ clear: [M], record: [], suppressed: [], trackers: [] });
  });

  it('a canary that failed to load is rolled back, once', () => {
    const failures = { [M]: 'model.safetensors is 12 bytes' };
    const fresh = rollbacks(canary(), { failures });
    expect(fresh.record).toEqual([
      { model: M, canary: '2.1.0', champion: '2.0.0', reason: `canary failed to load: ${failures[M]}` },
    ]);
    expect(fresh.suppressed).toEqual([M]);
    expect(fresh.trackers).toEqual([]);
    const held = rollbacks(canary(), { rolledBack: { [M]: record('2.1.0') }, failures });
    expect(held.record).toEqual([]);
    expect(held.suppressed).toEqual([M]);
  });

  it('carries a tracker over only for the same canary, champion and rule, untripped', () => {
    const carry = (t: Tracker, rollout: ManifestDeployment['rollout'] = { failureLimit: 3 }) =>
      rollbacks(canary(rollout), { trackers: { [M]: t } }).trackers[0]!.carryOver;
    expect(carry(tracker())).toBe(true);
    expect(carry(tracker(), { failureLimit: 5 })).toBe(false); // a rule change starts a new window
    expect(carry(tracker({ rule: undefined }))).toBe(false);
    expect(carry(tracker({ champion: '1.1.0' }))).toBe(false);
    expect(carry(tracker({ canary: '1.0.0' }))).toBe(false);
    expect(carry(tracker({ tripped: true }))).toBe(false);
    const fresh = rollbacks(canary({ failureLimit: 5 }), { trackers: { [M]: tracker() } });
    expect(fresh.trackers).toEqual([
      { model: M, champion: '2.0.0', canary: '2.1.0', rule: { failureLimit: 5 }, carryOver: false },
    ]);
  });

  it("leaves deployments without a canary, and their models' records, alone", () => {
    const r = rollbacks({
      [M]: { version: '2.0.0' },
      [P]: { version: '1.4.2', canary: { version: '1.4.1', weight: 5 } },
    });
    expect(r.trackers).toEqual([{ model: P, champion: '1.4.2', canary: '1.4.1', rule: undefined, carryOver: false }]);
    expect(r).toMatchObject({ clear: [], record: [], suppressed: [] });
  });
});
