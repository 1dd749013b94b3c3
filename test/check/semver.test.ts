// Semver rules: a new version's required bump, computed against the highest earlier version.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRepos, errorsOf, makeRepo, newVersion, rules } from './repo.ts';

afterAll(cleanupRepos);

const IC = 'intent-classifier';
// Edits on a copy of intent-classifier 2.1.0.
const NEW_WEIGHTS: [string, string] = [
  '7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180',
  'ab'.repeat(32),
];
const NEW_DATA: [string, string] = [
  '1f8cde391478e56439948fd138eb8b13a2fed5ed433833d6a3311916db2418f9',
  'cd'.repeat(32),
];
const DROP_OTHER: [string, string] = [
  'labels: [greet, order, cancel_order, other]',
  'labels: [greet, order, cancel_order]',
];
const ADD_LABEL: [string, string] = [
  'labels: [greet, order, cancel_order, other]',
  'labels: [greet, order, cancel_order, refund, other]',
];
const NEW_TOKENIZER: [string, string] = [
  'tokenizer: {name: byte-tokenizer, sha256: 85212ec527f609e6a30ef6348cdcfe87e5ec1ae844db83cf6df63b331c662e2f}',
  `tokenizer: {name: byte-tokenizer, sha256: ${'ef'.repeat(32)}}`,
];

describe('semver bump of a new version', { timeout: 30_000 }, () => {
  it('refuses a patch bump that hides a removed label, with the table in the message and the JSON', () => {
    const repo = makeRepo();
    const file = newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS, DROP_OTHER]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    const d = errorsOf(r)[0]!;
    expect(d.file).toBe(file);
    expect(d.line).toBe(repo.lineOf(file, 'version: 2.1.1'));
    expect(d.field).toBe('version');
    expect(d.message).toContain(
      'intent-classifier 2.1.1 is a patch bump over 2.1.0, but its changes need a major bump (e.g. 3.0.0)',
    );
    expect(d.message).toMatch(/interface\.outputs\.label\.labels\s+label "other" removed\s+major/);
    expect(d.message).toMatch(/artifacts\s+model\.safetensors sha256 726689884568\.\.\. -> abababababab\.\.\.\s+patch/);
    const v = r.semver.find((x) => x.version === '2.1.1')!;
    expect(v).toMatchObject({ model: IC, previous: '2.1.0', actual: 'patch', required: 'major', ok: false });
    expect(v.rows.map((x) => [x.field, x.needs])).toEqual([
      ['interface.outputs.label.labels', 'major'],
      ['artifacts', 'patch'],
    ]);
    expect(r.changes).toContainEqual(
      expect.objectContaining({ kind: 'version-added', model: IC, version: '2.1.1', file }),
    );
  });

  it('accepts the same change as a major bump', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '3.0.0', [NEW_WEIGHTS, DROP_OTHER]);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver).toEqual([
      expect.objectContaining({ version: '3.0.0', actual: 'major', required: 'major', ok: true }),
    ]);
  });

  it('refuses a tokenizer change with only a minor bump; accepts it as major', () => {
    const repo = makeRepo();
    const file = newVersion(repo, IC, '2.1.0', '2.2.0', [NEW_WEIGHTS, NEW_TOKENIZER]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    expect(errorsOf(r)[0]!.message).toMatch(
      /minor bump over 2\.1\.0, but its changes need a major bump[\s\S]*interface\.tokenizer\s+tokenizer byte-tokenizer file changed/,
    );
    expect(errorsOf(r)[0]!.file).toBe(file);
    repo.move(file, 'models/intent-classifier/versions/3.0.0.yaml');
    repo.edit('models/intent-classifier/versions/3.0.0.yaml', 'version: 2.2.0', 'version: 3.0.0');
    expect(errorsOf(repo.check())).toEqual([]);
  });

  it('counts an added label or output as a non-breaking interface change: minor, not patch', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS, ADD_LABEL]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    expect(errorsOf(r)[0]!.message).toMatch(/need a minor bump[\s\S]*label "refund" added\s+minor/);
    repo.remove('models/intent-classifier/versions/2.1.1.yaml');
    newVersion(repo, IC, '2.1.0', '2.2.0', [
      NEW_WEIGHTS,
      ['outputs: [{name: label', 'outputs: [{name: score, dtype: float32, shape: [batch]}, {name: label'],
    ]);
    const ok = repo.check();
    expect(errorsOf(ok)).toEqual([]);
    expect(ok.semver[0]!.rows).toContainEqual(
      expect.objectContaining({ field: 'interface.outputs.score', change: 'output "score" added', needs: 'minor' }),
    );
  });

  it('sees new training data in a dataset that DVC identifies by md5 only', () => {
    const repo = makeRepo();
    const md5 = (hex: string): [string, string] => [
      'sha256: 1f8cde391478e56439948fd138eb8b13a2fed5ed433833d6a3311916db2418f9}',
      `md5: ${hex}}`,
    ];
    newVersion(repo, IC, '2.1.0', '2.2.0', [NEW_WEIGHTS, md5('a'.repeat(32))]);
    expect(errorsOf(repo.check())).toEqual([]);
    newVersion(repo, IC, '2.2.0', '2.2.1', [[`md5: ${'a'.repeat(32)}`, `md5: ${'b'.repeat(32)}`]]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    expect(errorsOf(r)[0]!.message).toMatch(/lineage\.datasets\s+datasets .* -> .*\s+minor/);
  });

  it('needs at least minor for new training data, and patch is enough for new weights alone', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS, NEW_DATA]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    expect(errorsOf(r)[0]!.message).toMatch(/lineage\.datasets\s+datasets .* -> .*\s+minor/);
    repo.remove('models/intent-classifier/versions/2.1.1.yaml');
    newVersion(repo, IC, '2.1.0', '2.1.1', [NEW_WEIGHTS]);
    const ok = repo.check();
    expect(errorsOf(ok)).toEqual([]);
    expect(ok.semver[0]).toMatchObject({ actual: 'patch', required: 'patch', ok: true });
  });

  it('flags a version that changes nothing as a duplicate of the earlier one', () => {
    const repo = makeRepo();
    const file = newVersion(repo, IC, '2.1.0', '2.1.1', [['summary: Retrained', 'summary: Copied']]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-duplicate']);
    expect(errorsOf(r)[0]).toMatchObject({ file, field: 'version', line: repo.lineOf(file, 'version:') });
    expect(errorsOf(r)[0]!.message).toContain('intent-classifier 2.1.1 is a duplicate of 2.1.0');
    expect(r.semver[0]).toMatchObject({ duplicateOf: '2.1.0', ok: false });
  });

  it('compares with the highest earlier version, not the newest: a 1.1.x backport is judged against 1.1.0', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '1.1.0', '1.1.1', [
      ['25fd2dbb3edee20b097b007bb950ae7287334a14d6474b59dbb330fea0ea9670', 'a1'.repeat(32)],
    ]);
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver[0]).toMatchObject({ version: '1.1.1', previous: '1.1.0', required: 'patch' });
  });

  it('judges a release candidate and its release against the previous release line', () => {
    const repo = makeRepo();
    newVersion(repo, IC, '2.1.0', '3.0.0-rc.1', [NEW_WEIGHTS, DROP_OTHER]);
    repo.commitBase('rc');
    newVersion(repo, IC, '3.0.0-rc.1', '3.0.0'); // same weights as its rc: not a duplicate
    const r = repo.check();
    expect(errorsOf(r)).toEqual([]);
    expect(r.semver[0]).toMatchObject({ version: '3.0.0', previous: '2.1.0', required: 'major' });
  });

  it('0.x: a breaking change needs a minor bump, anything else a patch bump', () => {
    const repo = makeRepo();
    // A young model: copy pii-scrubber 1.4.1 as zero-scrubber 0.1.0.
    repo.write(
      'models/zero-scrubber/model.yaml',
      repo.read('models/pii-scrubber/model.yaml').replace('name: pii-scrubber', 'name: zero-scrubber'),
    );
    repo.write(
      'models/zero-scrubber/versions/0.1.0.yaml',
      repo
        .read('models/pii-scrubber/versions/1.4.1.yaml')
        .replace('name: pii-scrubber', 'name: zero-scrubber')
        .replace('version: 1.4.1', 'version: 0.1.0'),
    );
    repo.commitBase('zero');
    const drop: [string, string] = ['labels: [O, EMAIL, PHONE, NAME]', 'labels: [O, EMAIL, PHONE]'];
    const weights: [string, string] = [
      'aca85ab570ce16adc303df145d41a2d3e947aa0b1c1643d887646d471076c7cb',
      'a3'.repeat(32),
    ];
    newVersion(repo, 'zero-scrubber', '0.1.0', '0.1.1', [weights, drop]);
    const r = repo.check();
    expect(rules(r)).toEqual(['semver-bump']);
    expect(errorsOf(r)[0]!.message).toContain(
      'need a minor bump (0.x: a major-level change needs a minor bump) (e.g. 0.2.0)',
    );
    repo.remove('models/zero-scrubber/versions/0.1.1.yaml');
    newVersion(repo, 'zero-scrubber', '0.1.0', '0.2.0', [weights, drop]);
    expect(errorsOf(repo.check())).toEqual([]);
    repo.remove('models/zero-scrubber/versions/0.2.0.yaml');
    newVersion(repo, 'zero-scrubber', '0.1.0', '0.1.1', [
      weights,
      ['c51893d873c680c1814ae7849d89d493c5e4b17a7301d8ba6922c2c3445274c8', 'b5'.repeat(32)],
    ]);
    expect(errorsOf(repo.check())).toEqual([]); // new training in 0.x: a patch bump is enough
  });
});
