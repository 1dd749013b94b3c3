// Immutability of versions already on the base, and deletions of versions still in use.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRepos, errorsOf, makeRepo, newVersion, rules } from './repo.ts';

afterAll(cleanupRepos);

const V200 = 'models/intent-classifier/versions/2.0.0.yaml';

describe('immutability of merged versions', { timeout: 30_000 }, () => {
  it('refuses an artifact sha256 change on an existing version, at the line of the sha', () => {
    const repo = makeRepo();
    repo.edit(V200, '8f0cf9aeb20fc941c914aeba5ccfee3450d4fc45039ad0a37bfce44bae20dd94', 'ab'.repeat(32));
    const r = repo.check();
    expect(rules(r)).toEqual(['immutable-field']);
    const d = errorsOf(r)[0]!;
    expect(d).toMatchObject({ file: V200, field: 'artifacts[0].sha256', line: repo.lineOf(V200, 'ababab') });
    expect(d.message).toContain(
      'intent-classifier 2.0.0 is already on the base branch, so artifacts[0].sha256 may not change (was "8f0cf9aeb20fc941c914aeba5ccfee3450d4fc45039ad0a37bfce44bae20dd94", now "' +
        'ab'.repeat(32) +
        '")',
    );
    expect(d.message).toContain('Publish the change as a new version instead');
    expect(r.changes).toContainEqual(
      expect.objectContaining({ kind: 'version-edited', version: '2.0.0', fields: ['artifacts[0].sha256'] }),
    );
  });

  it('refuses interface, lineage and architecture edits, one diagnostic per field', () => {
    const repo = makeRepo();
    repo.edit(V200, 'labels: [greet, order, cancel_order, other]', 'labels: [greet, order, other]');
    repo.edit(V200, 'epochs: 3', 'epochs: 4');
    repo.edit(V200, 'family: mlp', 'family: bert');
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.field, d.line])).toEqual([
      ['immutable-field', 'interface.outputs[0].labels', repo.lineOf(V200, 'outputs:')],
      ['immutable-field', 'architecture.family', repo.lineOf(V200, 'family: bert')],
      ['immutable-field', 'lineage.hyperparameters.epochs', repo.lineOf(V200, 'epochs: 4')],
    ]);
  });

  it('allows metric, summary, notes and deprecation edits, and lists them as an edit', () => {
    const repo = makeRepo();
    repo.edit(
      V200,
      'metrics: {accuracy: 0.9275, macro_f1: 0.9266}',
      'metrics: {accuracy: 0.9275, macro_f1: 0.9266, latency_p50_ms: 4.2}\nnotes: Re-evaluated on the July golden set.\ndeprecated: true',
    );
    repo.edit(V200, 'summary: Adds', 'summary: Introduces');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    // production still runs 2.0.0 as champion: the deprecation is a warning from validate, not an error
    expect(r.diagnostics.map((d) => d.rule)).toEqual(['environment-deprecated']);
    const edit = r.changes.find((c) => c.kind === 'version-edited')!;
    expect(edit.fields).toEqual(['summary', 'metrics.latency_p50_ms', 'notes', 'deprecated']);
  });
});

describe('deleting versions', { timeout: 30_000 }, () => {
  it('allows deleting a version nothing references', () => {
    const repo = makeRepo();
    newVersion(repo, 'intent-classifier', '2.1.0', '2.1.1', [
      ['7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180', 'ab'.repeat(32)],
    ]);
    repo.commitBase('2.1.1');
    repo.remove('models/intent-classifier/versions/2.1.1.yaml');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes).toEqual([
      expect.objectContaining({
        kind: 'version-deleted',
        model: 'intent-classifier',
        version: '2.1.1',
        file: 'models/intent-classifier/versions/2.1.1.yaml',
      }),
    ]);
  });

  it('refuses deleting a version an environment runs and a later version names as its parent', () => {
    const repo = makeRepo();
    repo.remove('models/pii-scrubber/versions/1.4.1.yaml');
    const r = repo.check();
    const prod = 'environments/production.yaml';
    const child = 'models/pii-scrubber/versions/1.4.2.yaml';
    expect(errorsOf(r).map((d) => [d.rule, d.file, d.field, d.line])).toEqual([
      ['version-deleted-referenced', prod, 'models.pii-scrubber', repo.lineOf(prod, 'pii-scrubber: 1.4.1')],
      ['version-deleted-referenced', child, 'lineage.parent', repo.lineOf(child, 'parent: pii-scrubber@1.4.1')],
    ]);
    expect(errorsOf(r)[0]!.message).toBe(
      'pii-scrubber 1.4.1 is deleted in this change, but production still lists it as champion',
    );
    expect(errorsOf(r)[1]!.message).toBe(
      'pii-scrubber 1.4.1 is deleted in this change, but pii-scrubber@1.4.2 names it as lineage.parent',
    );
  });

  it('refuses deleting the versions a dependency range needs', () => {
    const repo = makeRepo();
    // Take intent-classifier 2.x out of every environment, then delete it: structured-extractor's ^2.0.0 is left with nothing.
    repo.remove('models/intent-classifier/versions/2.0.0.yaml');
    repo.remove('models/intent-classifier/versions/2.1.0.yaml');
    const r = repo.check();
    const dep = errorsOf(r).filter((d) => d.file === 'models/structured-extractor/versions/1.1.0.yaml');
    expect(dep).toHaveLength(2);
    expect(dep[0]).toMatchObject({
      rule: 'version-deleted-referenced',
      field: 'dependencies.intent-classifier',
      line: repo.lineOf('models/structured-extractor/versions/1.1.0.yaml', 'dependencies:'),
    });
    expect(dep.map((d) => d.message)).toEqual([
      'intent-classifier 2.0.0 is deleted in this change, but structured-extractor@1.1.0 depends on intent-classifier ^2.0.0 and no remaining version satisfies it',
      'intent-classifier 2.1.0 is deleted in this change, but structured-extractor@1.1.0 depends on intent-classifier ^2.0.0 and no remaining version satisfies it',
    ]);
    // the environments still name 2.x: reported as deletions, not as unknown versions
    expect(rules(r).filter((x) => x === 'environment-version')).toEqual([]);
  });
});
