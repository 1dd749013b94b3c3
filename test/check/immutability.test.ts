// Immutability of versions already on the base, and deletions of versions still in use.
import { afterAll, describe, expect, it } from 'vitest';
import { VALID_BASE, cleanupRepos, errorsOf, makeRepo, newVersion, rules } from './repo.ts';

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

/** test/fixtures/valid-base in a temp git repo, committed as the base (the root registry is never read). */
const fixtureRepo = () => makeRepo(VALID_BASE);

const F210 = 'models/intent-classifier/versions/2.1.0.yaml';
const MODEL_LINE =
  '  - {path: model.safetensors, sha256: cfef9fc33911819077685266717cc67351d887c51285183fcc1ead6f2cf573e2, size: 37640}\n';
const CONFIG_LINE =
  '  - {path: config.json, sha256: d7a9ad12c7df7be0d6ceefcc121cddae615ddef4f5bc4d6a0e83d318f357e113, size: 220}\n';
const TOKENIZER_LINE =
  '  - {path: tokenizer.json, sha256: 85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f, size: 34}\n';
/** 2.1.0's artifacts listed tokenizer, config, model instead of model, config, tokenizer. */
const reversed = (repo: ReturnType<typeof fixtureRepo>) =>
  repo.edit(F210, MODEL_LINE + CONFIG_LINE + TOKENIZER_LINE, TOKENIZER_LINE + CONFIG_LINE + MODEL_LINE);

describe('what is not a change to a frozen field', { timeout: 30_000 }, () => {
  it('reordering the artifacts of a merged version is no edit', () => {
    const repo = fixtureRepo();
    reversed(repo);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes).toEqual([]);
  });

  it('adding dependencies: {} where it was absent is no edit, and neither is dropping an empty one', () => {
    const repo = fixtureRepo();
    repo.edit(F210, 'serving: {engine: builtin}', 'dependencies: {}\nserving: {engine: builtin}');
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.changes).toEqual([]);
    repo.commitBase();
    repo.edit(F210, 'dependencies: {}\n', '');
    expect(repo.check().changes).toEqual([]);
  });
});

describe('what stays frozen when the artifacts are compared by path', { timeout: 30_000 }, () => {
  it('a sha256 change among reordered artifacts is one error, at the field of the moved entry', () => {
    const repo = fixtureRepo();
    reversed(repo);
    repo.edit(F210, 'd7a9ad12c7df7be0d6ceefcc121cddae615ddef4f5bc4d6a0e83d318f357e113', 'ab'.repeat(32));
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.field, d.line])).toEqual([
      ['immutable-field', 'artifacts[1].sha256', repo.lineOf(F210, 'abababab')],
    ]);
    expect(errorsOf(r)[0]!.message).toContain(
      'so artifacts[1].sha256 may not change (was "d7a9ad12c7df7be0d6ceefcc121cddae615ddef4f5bc4d6a0e83d318f357e113", now "abab',
    );
    expect(r.changes).toEqual([expect.objectContaining({ kind: 'version-edited', fields: ['artifacts[1].sha256'] })]);
  });

  it('a size change among reordered artifacts is refused, with the old size from the entry of the same path', () => {
    const repo = fixtureRepo();
    reversed(repo);
    repo.edit(F210, 'size: 37640}', 'size: 37641}');
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.field, d.line])).toEqual([
      ['artifacts[2].size', repo.lineOf(F210, 'size: 37641')],
    ]);
    expect(errorsOf(r)[0]!.message).toContain('so artifacts[2].size may not change (was 37640, now 37641)');
  });

  it('an added artifact is refused at its entry, a removed one at the list, naming the file', () => {
    const repo = fixtureRepo();
    reversed(repo);
    repo.edit(F210, MODEL_LINE, `${MODEL_LINE}  - {path: extra.json, sha256: ${'e1'.repeat(32)}, size: 2}\n`);
    const added = repo.check();
    expect(errorsOf(added).map((d) => [d.field, d.line])).toEqual([['artifacts[3]', repo.lineOf(F210, 'extra.json')]]);
    expect(errorsOf(added)[0]!.message).toContain(
      'so artifacts[3] may not change (was absent, now {"path":"extra.json"',
    );
    repo.edit(F210, `  - {path: extra.json, sha256: ${'e1'.repeat(32)}, size: 2}\n`, '');
    repo.edit(F210, TOKENIZER_LINE, '');
    const removed = repo.check();
    expect(errorsOf(removed).map((d) => d.field)).toEqual(['artifacts']);
    expect(errorsOf(removed)[0]!.message).toContain(
      'so artifacts may not change (removed tokenizer.json, sha256 85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f, size 34)',
    );
  });

  it('which .safetensors file comes first stays frozen: the builtin engine loads that one', () => {
    const repo = fixtureRepo();
    const shard = `  - {path: shard-2.safetensors, sha256: ${'5a'.repeat(32)}, size: 16}\n`;
    repo.edit(F210, MODEL_LINE, MODEL_LINE + shard);
    repo.commitBase();
    repo.edit(F210, MODEL_LINE + shard, shard + MODEL_LINE);
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.field, d.line])).toEqual([
      ['immutable-field', 'artifacts[0].path', repo.lineOf(F210, 'shard-2.safetensors')],
    ]);
    expect(errorsOf(r)[0]!.message).toContain(
      'the first .safetensors file, which the builtin engine loads, may not change (was model.safetensors, now shard-2.safetensors)',
    );
  });

  it('a real dependency added to a merged version is refused at its key', () => {
    const repo = fixtureRepo();
    repo.edit(F210, 'serving: {engine: builtin}', 'dependencies: {pii-scrubber: "^1.4.0"}\nserving: {engine: builtin}');
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.field, d.line])).toEqual([
      ['immutable-field', 'dependencies.pii-scrubber', repo.lineOf(F210, 'dependencies:')],
    ]);
    expect(errorsOf(r)[0]!.message).toContain('so dependencies.pii-scrubber may not change (was absent, now "^1.4.0")');
  });

  it('emptying a real dependency list is refused, even with the artifacts reordered in the same edit', () => {
    const repo = fixtureRepo();
    const F = 'models/structured-extractor/versions/1.1.0.yaml';
    repo.edit(F, 'dependencies: {intent-classifier: "^2.0.0"}', 'dependencies: {}');
    const text = repo.read(F);
    const lines = text.split('\n');
    const a = lines.findIndex((l) => l.includes('path: model.safetensors'));
    [lines[a], lines[a + 2]] = [lines[a + 2]!, lines[a]!];
    repo.write(F, lines.join('\n'));
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.field])).toEqual([['immutable-field', 'dependencies']]);
    expect(errorsOf(r)[0]!.message).toContain(
      'so dependencies.intent-classifier may not change (was "^2.0.0", now absent)',
    );
  });
});
