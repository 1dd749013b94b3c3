// Build metadata does not count for precedence (semver §10): 2.1.0+rebuild.1 is 2.1.0. A card that
// differs from another only by build metadata is refused at the card the pull request adds, and its
// semver verdict says so instead of calling it a valid bump over the version before.
import { afterAll, describe, expect, it } from 'vitest';
import { bumpSummary } from '../../src/review/check.ts';
import { validateRegistry } from '../../src/registry/validate.ts';
import { WorkingTreeSource } from '../../src/registry/source.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../../src/registry/yaml-file.ts';
import { cleanupRepos, errorsOf, fixtureRepo } from './repo.ts';

afterAll(cleanupRepos);

const IC = 'intent-classifier';
const V210 = 'models/intent-classifier/versions/2.1.0.yaml';
const NEW_WEIGHTS: [string, string] = [
  'cfef9fc33911819077685266717cc67351d887c51285183fcc1ead6f2cf573e2',
  'ab'.repeat(32),
];
const NEW_DATA: [string, string] = [
  '1f8cde391478e56439948fd138eb8b13a2fed5ed433833d6a3311916db2418f9',
  'cd'.repeat(32),
];

describe('a card that differs from another only by build metadata', { timeout: 30_000 }, () => {
  it('is refused at the added 2.1.0+rebuild.1, not at the merged 2.1.0, and is no valid minor', () => {
    const repo = fixtureRepo();
    const file = repo.copyVersion(IC, '2.1.0', '2.1.0+rebuild.1', [NEW_WEIGHTS]);
    const r = repo.check();
    const errors = errorsOf(r);
    expect(errors.map((d) => [d.rule, d.file, d.field])).toEqual([['identity-duplicate', file, 'version']]);
    expect(errors[0]!.line).toBe(repo.lineOf(file, 'version: 2.1.0+rebuild.1'));
    expect(errors[0]!.message).toContain(
      'intent-classifier 2.1.0+rebuild.1 has the same precedence as merged 2.1.0; build metadata (+rebuild.1) cannot make a new version',
    );
    expect(r.diagnostics.filter((d) => d.file === V210)).toEqual([]);
    // Not "minor over 2.0.0": the same version as 2.1.0, refused.
    const v = r.semver.find((x) => x.version === '2.1.0+rebuild.1')!;
    expect(v).toMatchObject({ model: IC, previous: '2.1.0', actual: 'none', ok: false, samePrecedenceAs: '2.1.0' });
    expect(v.rows.map((x) => x.field)).toEqual(['artifacts']);
    expect(bumpSummary(v)).toBe('same precedence as 2.1.0 (build metadata does not make a new version)');
    expect(r.changes).toContainEqual(expect.objectContaining({ kind: 'version-added', version: '2.1.0+rebuild.1' }));
  });

  it('is refused at the added plain 2.2.0 when the merged card is 2.2.0+build.7', () => {
    const repo = fixtureRepo();
    repo.copyVersion(IC, '2.1.0', '2.2.0+build.7', [NEW_WEIGHTS, NEW_DATA]);
    repo.commitBase();
    const file = repo.copyVersion(IC, '2.1.0', '2.2.0', [NEW_WEIGHTS, NEW_DATA]);
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.file, d.field])).toEqual([['identity-duplicate', file, 'version']]);
    expect(errorsOf(r)[0]!.message).toContain(
      'intent-classifier 2.2.0 has the same precedence as merged 2.2.0+build.7',
    );
    expect(errorsOf(r)[0]!.message).toContain('same content as 2.2.0+build.7');
    expect(r.semver).toEqual([
      expect.objectContaining({ version: '2.2.0', previous: '2.2.0+build.7', ok: false, rows: [] }),
    ]);
  });

  it('when both twins are new, keeps the plain version and refuses the one with build metadata', () => {
    const repo = fixtureRepo();
    const plain = repo.copyVersion(IC, '2.1.0', '2.2.0', [NEW_WEIGHTS, NEW_DATA]);
    const twin = repo.copyVersion(IC, '2.1.0', '2.2.0+b', [NEW_WEIGHTS, NEW_DATA]);
    const r = repo.check();
    expect(errorsOf(r).map((d) => [d.rule, d.file])).toEqual([['identity-duplicate', twin]]);
    expect(errorsOf(r)[0]!.message).toContain('2.2.0+b has the same precedence as 2.2.0;');
    expect(r.semver.map((v) => [v.version, v.previous, v.ok])).toEqual([
      ['2.2.0', '2.1.0', true],
      ['2.2.0+b', '2.2.0', false],
    ]);
    expect(r.diagnostics.filter((d) => d.file === plain)).toEqual([]);
  });

  it('validate alone (no base) blames the card with build metadata, not the plain version', () => {
    const repo = fixtureRepo();
    const file = repo.copyVersion(IC, '2.1.0', '2.1.0+rebuild.1', [NEW_WEIGHTS]);
    const v = validateRegistry(new WorkingTreeSource(repo.dir, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }));
    expect(v.diagnostics.map((d) => [d.rule, d.file])).toEqual([['identity-duplicate', file]]);
    expect(v.diagnostics[0]!.message).toContain('version 2.1.0+rebuild.1 has the same precedence as 2.1.0');
  });
});
