// Environment moves: promotion through `requires`, canaries, prereleases, rollback windows and the
// dependents a move would break.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRepos, errorsOf, makeRepo, newVersion, rules, type TestRepo } from './repo.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addProductionEvidence, compareWithBase } from '../../src/review/check.ts';
import { storeReportSource } from '../../src/benchmark/store-evidence.ts';
import { openStore } from '../../src/store/open.ts';

afterAll(cleanupRepos);

const DEV = 'environments/dev.yaml';
const STAGING = 'environments/staging.yaml';
const PROD = 'environments/production.yaml';
const IC = 'intent-classifier';
const NEW_WEIGHTS: [string, string] = [
  '7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180',
  'ab'.repeat(32),
];

/** intent-classifier 2.1.1 (new weights) merged, in dev only. */
function withPatchInDev(): TestRepo {
  const repo = makeRepo();
  newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS]);
  repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
  repo.commitBase('2.1.1 in dev');
  return repo;
}

describe('promotion', { timeout: 30_000 }, () => {
  it('lets a new version enter dev, which requires nothing, and reports the move', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS]);
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes).toContainEqual(
      expect.objectContaining({
        kind: 'champion-moved',
        environment: 'dev',
        model: IC,
        from: '2.1.0',
        to: '2.1.1',
        file: DEV,
        line: repo.lineOf(DEV, 'intent-classifier'),
        description: 'intent-classifier in dev: 2.1.0 -> 2.1.1',
      }),
    );
  });

  it('refuses a version entering staging in the same change that puts it in dev', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS]);
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
    repo.edit(STAGING, 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
    const r = repo.check();
    expect(rules(r)).toEqual(['promotion-skipped-stage']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: STAGING,
      field: 'models.intent-classifier',
      line: repo.lineOf(STAGING, 'intent-classifier'),
    });
    expect(errorsOf(r)[0]!.message).toBe(
      'intent-classifier 2.1.1 cannot enter staging (as champion): staging requires dev, and on the base branch dev held 2.1.0. Promote 2.1.1 to dev first, merge, then promote it here.',
    );
  });

  it('lets it enter staging once dev held it on the base', () => {
    const repo = withPatchInDev();
    repo.edit(STAGING, 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
    expect(errorsOf(repo.check())).toEqual([]);
  });

  it('refuses a promotion that skips staging (dev -> production)', () => {
    const repo = withPatchInDev();
    repo.edit(PROD, 'version: 2.0.0              # champion', 'version: 2.1.1');
    repo.edit(PROD, 'canary: {version: 2.1.0, weight: 5%}', 'canary: {version: 2.0.0, weight: 5%}');
    const r = repo.check();
    expect(rules(r)).toEqual(['promotion-skipped-stage']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: PROD,
      field: 'models.intent-classifier.version',
      line: repo.lineOf(PROD, 'version: 2.1.1'),
    });
    expect(errorsOf(r)[0]!.message).toContain(
      'cannot enter production (as champion): production requires staging, and on the base branch staging held 2.1.0',
    );
  });

  it('promotes the canary to champion: it already ran in production, so it is not entering', () => {
    const repo = makeRepo();
    repo.edit(PROD, 'version: 2.0.0              # champion', 'version: 2.1.0');
    repo.edit(PROD, '    canary: {version: 2.1.0, weight: 5%}\n', '');
    repo.edit(PROD, 'rollbackWindow: [1.1.0]', 'rollbackWindow: [2.0.0, 1.1.0]');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes.map((c) => c.description)).toEqual([
      'intent-classifier in production: 2.0.0 -> 2.1.0',
      'intent-classifier in production: canary 2.1.0 removed',
      'intent-classifier in production: rollbackWindow [1.1.0] -> [2.0.0, 1.1.0]',
    ]);
  });

  it('refuses a rollback target that never ran in the environment', () => {
    const repo = makeRepo();
    repo.edit(PROD, 'rollbackWindow: [1.1.0]', 'rollbackWindow: [1.1.0, 1.0.0]');
    const r = repo.check();
    expect(rules(r)).toEqual(['rollback-window-new']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: PROD,
      field: 'models.intent-classifier.rollbackWindow[1]',
      line: repo.lineOf(PROD, 'rollbackWindow'),
    });
  });
});

describe('canaries', { timeout: 30_000 }, () => {
  it('a canary must itself be promotable: refused in production when staging did not hold it', () => {
    const repo = withPatchInDev();
    repo.edit(PROD, 'canary: {version: 2.1.0, weight: 5%}', 'canary: {version: 2.1.1, weight: 5%}');
    const r = repo.check();
    expect(rules(r)).toEqual(['promotion-skipped-stage']);
    expect(errorsOf(r)[0]).toMatchObject({
      field: 'models.intent-classifier.canary.version',
      line: repo.lineOf(PROD, 'canary:'),
    });
    expect(errorsOf(r)[0]!.message).toContain('cannot enter production (as canary)');
    expect(r.changes).toContainEqual(expect.objectContaining({ kind: 'canary-moved', from: '2.1.0', to: '2.1.1' }));
  });

  it('accepts a canary in staging for a version dev held, and a weight change', () => {
    const repo = withPatchInDev();
    repo.edit(
      STAGING,
      'intent-classifier: 2.1.0',
      'intent-classifier:\n    version: 2.1.0\n    canary: {version: 2.1.1, weight: 10%}',
    );
    repo.edit(PROD, 'weight: 5%', 'weight: 25%');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes.map((c) => c.description)).toEqual([
      'intent-classifier in production: canary weight 5% -> 25%',
      'intent-classifier in staging: canary 2.1.1 at 10% added',
    ]);
  });

  it('refuses a canary weight over 100% (schema)', () => {
    const repo = makeRepo();
    repo.edit(PROD, 'weight: 5%', 'weight: 150%');
    const r = repo.check();
    expect(rules(r)).toEqual(['schema']);
    expect(errorsOf(r)[0]).toMatchObject({ file: PROD, field: 'models.intent-classifier.canary.weight' });
  });
});

describe('prereleases', { timeout: 30_000 }, () => {
  /** pii-scrubber 1.5.0-rc.1 merged into dev and staging. */
  function withRc(): TestRepo {
    const repo = makeRepo();
    newVersion(repo, 'pii-scrubber', '1.4.2', '1.5.0-rc.1', [
      ['a4d29bb7ba28b6626985e5c651f56cc4a089bbd40217fdda5bcc6d63e3c536a8', 'cd'.repeat(32)],
      ['epochs: 5', 'epochs: 6'],
    ]);
    repo.edit(DEV, 'pii-scrubber: 1.4.2', 'pii-scrubber: 1.5.0-rc.1');
    return repo;
  }

  it('may enter dev and then staging', () => {
    const repo = withRc();
    expect(errorsOf(repo.check())).toEqual([]);
    repo.commitBase('rc in dev');
    repo.edit(STAGING, 'pii-scrubber: 1.4.2', 'pii-scrubber: 1.5.0-rc.1');
    expect(errorsOf(repo.check())).toEqual([]);
  });

  it('may not enter production, even as a canary after staging held it', () => {
    const repo = withRc();
    repo.edit(STAGING, 'pii-scrubber: 1.4.2', 'pii-scrubber: 1.5.0-rc.1');
    repo.commitBase('rc in dev and staging');
    repo.edit(
      PROD,
      'pii-scrubber: 1.4.1',
      'pii-scrubber:\n    version: 1.4.1\n    canary: {version: 1.5.0-rc.1, weight: 1%}',
    );
    const r = repo.check();
    expect(rules(r)).toEqual(['prerelease-environment']);
    expect(errorsOf(r)[0]).toMatchObject({
      file: PROD,
      field: 'models.pii-scrubber.canary.version',
      line: repo.lineOf(PROD, '1.5.0-rc.1'),
    });
    expect(errorsOf(r)[0]!.message).toBe(
      'pii-scrubber 1.5.0-rc.1 is a prerelease and cannot enter production (as canary): prereleases may only run in environments that another environment requires (dev, staging)',
    );
  });

  it('cannot open production to prereleases by adding an environment that requires it in the same change', () => {
    const repo = withRc();
    repo.edit(STAGING, 'pii-scrubber: 1.4.2', 'pii-scrubber: 1.5.0-rc.1');
    repo.commitBase('rc in dev and staging');
    repo.write('environments/after-prod.yaml', 'requires: production\nmodels:\n  pii-scrubber: 1.4.1\n');
    repo.edit(
      PROD,
      'pii-scrubber: 1.4.1',
      'pii-scrubber:\n    version: 1.4.1\n    canary: {version: 1.5.0-rc.1, weight: 1%}',
    );
    expect(rules(repo.check())).toEqual(['prerelease-environment']);
  });
});

describe('dependencies between models', { timeout: 30_000 }, () => {
  it('refuses moving a model to a major version outside a dependent range, naming dependents and ranges', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '3.0.0', [
      NEW_WEIGHTS,
      ['labels: [greet, order, cancel_order, other]', 'labels: [greet, order, other]'],
    ]);
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 3.0.0');
    const r = repo.check();
    expect(rules(r)).toEqual(['dependency-broken-by-move']); // replaces validate's dependency-range-unsatisfied at the same field
    expect(errorsOf(r)[0]).toMatchObject({
      file: DEV,
      field: 'models.intent-classifier',
      line: repo.lineOf(DEV, 'intent-classifier'),
    });
    expect(errorsOf(r)[0]!.message).toBe(
      'moving intent-classifier in dev from 2.1.0 to 3.0.0 breaks its dependent: structured-extractor@1.1.0 needs intent-classifier ^2.0.0',
    );
  });

  it('accepts the same major when the dependent moves to a version whose range allows it', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '3.0.0', [
      NEW_WEIGHTS,
      ['labels: [greet, order, cancel_order, other]', 'labels: [greet, order, other]'],
    ]);
    newVersion(repo, 'structured-extractor', '1.1.0', '1.2.0', [
      ['d741127fd2a12d8f20ffd915cddd8471772f68509d2906d8ee84c38b8f5c6c1c', 'ee'.repeat(32)],
      ['"^2.0.0"', '">=2.0.0 <4"'],
    ]);
    repo.edit(DEV, 'intent-classifier: 2.1.0', 'intent-classifier: 3.0.0');
    repo.edit(DEV, 'structured-extractor: 1.1.0', 'structured-extractor: 1.2.0');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver.find((v) => v.model === 'structured-extractor')).toMatchObject({ required: 'minor', ok: true });
  });

  it('names every dependent, champion and canary, when a rollback breaks them', () => {
    const repo = makeRepo();
    repo.edit(PROD, 'version: 2.0.0              # champion', 'version: 1.1.0');
    repo.edit(PROD, 'rollbackWindow: [1.1.0]', 'rollbackWindow: [2.0.0]');
    repo.edit(
      PROD,
      'structured-extractor: 1.0.0',
      'structured-extractor:\n    version: 1.0.0\n    canary: {version: 1.1.0, weight: 5%}',
    );
    const r = repo.check();
    const broken = errorsOf(r).filter((d) => d.rule === 'dependency-broken-by-move');
    expect(broken).toHaveLength(1);
    expect(broken[0]!.message).toBe(
      'moving intent-classifier in production from 2.0.0 to 1.1.0 breaks its dependents: structured-extractor@1.0.0 needs intent-classifier ^2.0.0; structured-extractor@1.1.0 needs intent-classifier ^2.0.0',
    );
  });
});

describe('production evidence gate (check --evidence)', () => {
  it('refuses a canary entering production without a benchmark report, and says how to produce one', async () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', '    canary: {version: 2.1.0, weight: 5%}\n', '');
    repo.commitBase();
    repo.edit(
      'environments/production.yaml',
      '    rollbackWindow: [1.1.0]',
      '    canary: {version: 2.1.0, weight: 5%}\n    rollbackWindow: [1.1.0]',
    );
    const run = compareWithBase(repo.dir, repo.base);
    expect(run.result.errors).toBe(0); // without evidence the promotion rules alone accept it (2.1.0 is in staging)
    const store = mkdtempSync(join(tmpdir(), 'mg-evidence-'));
    const r = await addProductionEvidence(compareWithBase(repo.dir, repo.base), storeReportSource(openStore(store)));
    expect(r.errors).toBe(1);
    const d = r.diagnostics.find((x) => x.rule === 'production-benchmark')!;
    expect(d).toMatchObject({
      file: 'environments/production.yaml',
      field: 'models.intent-classifier.canary.version',
      line: repo.lineOf('environments/production.yaml', 'canary:'),
    });
    expect(d.message).toContain('intent-classifier@2.1.0 cannot enter production: no benchmark evidence');
    expect(d.message).toContain('reports/intent-classifier/2.1.0/gpu.json');
    expect(d.message).toContain('/benchmark');
  });
});
