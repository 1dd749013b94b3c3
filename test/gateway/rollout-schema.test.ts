import { describe, expect, it } from 'vitest';
import { buildManifest } from '../../src/manifest/manifest.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { validateRegistry } from '../../src/registry/validate.ts';
import { edit, exampleRepo } from '../helpers.ts';

const header = {
  sequence: 3,
  publishedAt: new Date('2026-11-24T10:00:00Z'),
  expiresAt: new Date('2026-12-01T10:00:00Z'),
  source: { repository: 'acme/models', commit: 'a'.repeat(40) },
};
const withRollout = (rollout: string) => {
  const repo = exampleRepo();
  edit(repo, 'environments/production.yaml', (t) =>
    t.replace('    rollbackWindow: [1.1.0]', `    rollbackWindow: [1.1.0]\n    rollout: ${rollout}`),
  );
  return validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: 1 << 20 }));
};

describe('rollout rule in environment files', () => {
  it('validates and reaches the manifest, with maxErrorRate as a percent number', () => {
    const r = withRollout('{maxErrorRate: 5%, maxP99LatencyRatio: 1.5, failureLimit: 10, minRequests: 50}');
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const m = buildManifest(r.registry, header);
    expect(m.environments.production!.models['intent-classifier']!.rollout).toEqual({
      maxErrorRate: 5,
      maxP99LatencyRatio: 1.5,
      failureLimit: 10,
      minRequests: 50,
    });
    expect(m.environments.staging!.models['intent-classifier']!.rollout).toBeUndefined();
  });

  it('rejects unknown fields and out-of-range values', () => {
    for (const bad of [
      '{failureLimit: 0}',
      '{maxErrorRate: 5}',
      '{maxP99LatencyRatio: 0.5}',
      '{failureLimt: 3}',
      '{}',
    ]) {
      const r = withRollout(bad);
      expect(r.errors, bad).toBeGreaterThan(0);
      expect(
        r.diagnostics.some((d) => d.file.endsWith('production.yaml')),
        bad,
      ).toBe(true);
    }
  });
});
